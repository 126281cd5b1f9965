// MODE=embedded as a whole: opens with no outside service, keeps everything in its data folder across restarts
// (also after a SIGKILL), generates and keeps its JWT secret, and lets one process at a time use the folder.
import { spawn } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { lockDataDir, openEmbeddedInfra } from '../../src/infra/embedded.js';
import type { Infra } from '../../src/infra/infra.js';
import type { ConsumedRecord } from '../../src/log/message-log.js';
import { TOPICS } from '../../src/log/message-log.js';
import { ROOT, waitFor } from '../support/cluster.js';
import { newMessage, noMetrics, tempDirs, testLogger, uniqueRoomId } from './support.js';

const logger = testLogger();
const dirs = tempDirs('embedded');
afterAll(() => dirs.removeAll());
const dataDir = () => dirs.make();

const open = (dir: string, env: Record<string, string> = {}) =>
  openEmbeddedInfra(loadConfig({ MODE: 'embedded', NODE_ENV: 'test', DATA_DIR: dir, ...env }), logger, noMetrics);

/** Starts a group on chat.messages that keeps the records of `room`. */
async function watch(infra: Infra, groupId: string, room: string): Promise<ConsumedRecord[]> {
  const got: ConsumedRecord[] = [];
  const g = infra.consumers.create({ groupId, topic: TOPICS.messages, handler: async (rs) => void got.push(...rs.filter((r) => r.key === room)) });
  await g.start();
  return got;
}
const idOf = (r: ConsumedRecord) => (JSON.parse(r.value!.toString()) as { id: string }).id;

describe('embedded infrastructure', () => {
  it('works with no outside service and keeps users, messages, offsets and its JWT secret across a restart', async () => {
    const dir = await dataDir();
    const room = uniqueRoomId();
    let infra = await open(dir);
    try {
      expect(infra.description).toBe(`embedded: PGlite and message log in ${dir}`);
      for (const [name, check] of Object.entries(infra.readiness)) await expect(check(), name).resolves.toBeUndefined();
      expect(Object.keys(infra.readiness).length).toBeGreaterThanOrEqual(2);
      const secret = infra.jwtSecret!;
      expect(secret.length).toBeGreaterThanOrEqual(32);
      expect((await stat(join(dir, 'jwt-secret'))).mode & 0o777).toBe(0o600);

      const user = await infra.store.createUser({ email: 'ada@example.com', passwordHash: 'h', nickname: 'ada' });
      const sent = [newMessage(room, 'one'), newMessage(room, 'two')];
      for (const m of sent) await infra.messageLog.append(m);
      const got = await watch(infra, 'embedded-test', room);
      await waitFor(() => got.length >= 2, 5000, 'the two messages');
      expect(got.map(idOf)).toEqual(sent.map((m) => m.id));
      await waitFor(async () => (await infra.lag!()).every((l) => l.lag === 0), 5000, 'the group to commit');
      await expect(open(dir)).rejects.toThrow(`the data folder ${dir} is already open in this process (pid ${process.pid})`);
      await infra.close();

      infra = await open(dir);
      expect(infra.jwtSecret).toBe(secret);
      expect(await infra.store.findUserById(user.id)).toMatchObject({ email: 'ada@example.com' });
      expect(await infra.messageLog.latestSeq(room)).toBe('2');
      // The group goes on after its committed offset: only what is new arrives.
      const again = await watch(infra, 'embedded-test', room);
      const third = newMessage(room, 'three');
      await infra.messageLog.append(third);
      await waitFor(() => again.length >= 1, 5000, 'the third message');
      expect(again.map(idOf)).toEqual([third.id]);
    } finally {
      await infra.close();
    }
  });

  it('uses JWT_SECRET when given (and writes no secret file)', async () => {
    const dir = await dataDir();
    const infra = await open(dir, { JWT_SECRET: 'a-configured-secret-of-enough-length' });
    try {
      expect(infra.jwtSecret).toBe('a-configured-secret-of-enough-length');
      await expect(stat(join(dir, 'jwt-secret'))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await infra.close();
    }
  });

  it('refuses a folder another live process holds; after that process is SIGKILLed, opens it with every acknowledged write', async () => {
    const dir = await dataDir();
    const room = uniqueRoomId();
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/contract/fixtures/embedded-writer.ts'), dir, room], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((r) => child.once('exit', r));
    const users: string[] = [];
    const messages = new Map<string, string>();
    let ready = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.endsWith(' end')) return;
      const [kind, a, b] = line.split(' ');
      if (kind === 'ready') ready = true;
      if (kind === 'user') users.push(a!);
      if (kind === 'msg') messages.set(a!, b!);
    });
    try {
      await waitFor(() => ready, 60_000, 'the child to open the folder');
      await expect(open(dir)).rejects.toThrow(`the data folder ${dir} is in use by another process (pid ${child.pid})`);
      await waitFor(
        () => messages.size >= 60,
        60_000,
        () => `60 acknowledged writes, have ${messages.size}`,
      );
    } finally {
      child.kill('SIGKILL');
      await exited;
    }

    const infra = await open(dir);
    try {
      for (const email of users) expect(await infra.store.findUserByEmail(email), email).not.toBeNull();
      const total = Number(await infra.messageLog.latestSeq(room));
      expect(total).toBeGreaterThanOrEqual(messages.size);
      const got = await watch(infra, 'after-crash', room);
      await waitFor(
        () => got.length >= total,
        5000,
        () => `${total} records, have ${got.length}`,
      );
      const at = new Map(got.map((r) => [idOf(r), r.offset]));
      for (const [id, offset] of messages) expect(at.get(id), id).toBe(offset);
    } finally {
      await infra.close();
    }
  });
});

describe('embedded data folder lock', () => {
  const lockFile = (dir: string) => join(dir, 'LOCK');
  const owner = async (dir: string) => JSON.parse(await readFile(lockFile(dir), 'utf8')) as { pid: number; startedAt: number };

  it('is exclusive within a process and released on release', async () => {
    const dir = await dataDir();
    const lock = await lockDataDir(dir);
    expect((await owner(dir)).pid).toBe(process.pid);
    await expect(lockDataDir(dir)).rejects.toThrow(`the data folder ${dir} is already open in this process (pid ${process.pid})`);
    await lock.release();
    await expect(stat(lockFile(dir))).rejects.toMatchObject({ code: 'ENOENT' });
    await (await lockDataDir(dir)).release();
  });

  it('takes over a lock whose owner is gone: a dead pid, or a pid now used by another process or an earlier life of this one', async () => {
    const dir = await dataDir();
    const gone = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => gone.once('exit', r));
    const stale = [
      { pid: gone.pid!, startedAt: Date.now() - 1000 },
      { pid: process.ppid, startedAt: 1_000 }, // alive, but started long after this lock was written
      { pid: process.pid, startedAt: 1_000 }, // this pid, in an earlier life (a restarted container)
    ];
    for (const o of stale) {
      await writeFile(lockFile(dir), JSON.stringify(o));
      const lock = await lockDataDir(dir);
      expect((await owner(dir)).pid, JSON.stringify(o)).toBe(process.pid);
      await lock.release();
    }
  });
});
