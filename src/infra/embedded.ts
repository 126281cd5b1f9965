// MODE=embedded (the default of `npm start`): one process and no outside service — PostgreSQL as PGlite and the
// message log as local files, both in the data folder, with the in-process fan-out bus and counters. The same
// ports, SQL and guarantees as cluster.ts, minus scale-out (one process owns the folder at a time).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { MemoryAckPositions } from '../counters/ack-positions-memory.js';
import { MemoryIdempotencyStore } from '../counters/idempotency-memory.js';
import { MemoryLeases } from '../counters/leases-memory.js';
import { MemoryMembershipLeases } from '../counters/membership-leases-memory.js';
import { MemoryPresence } from '../counters/presence-memory.js';
import { MemoryRateWindows } from '../counters/rate-windows-memory.js';
import { MemoryReadPositions } from '../counters/read-positions-memory.js';
import { MemoryFanoutBus } from '../fanout/memory.js';
import type { Metrics } from '../metrics/metrics.js';
import { MIGRATIONS_DIR } from '../paths.js';
import { LocalConsumerGroups } from '../local-log/consumers.js';
import { LocalDeadLetters } from '../local-log/dead-letters.js';
import { LocalMessageLog } from '../local-log/local-log.js';
import { KyselyDeadLetterMarks } from '../store/kysely-dead-letter-marks.js';
import { openPgliteStore } from '../store/pglite.js';
import { Closers } from './closers.js';
import type { Infra } from './infra.js';

export async function openEmbeddedInfra(config: Config, log: Logger, metrics: Metrics): Promise<Infra> {
  const dataDir = config.dataDir;
  const closers = new Closers(log);
  try {
    await mkdir(dataDir, { recursive: true });
    const lock = await lockDataDir(dataDir);
    closers.add('data folder lock', () => lock.release());

    const jwtSecret = config.jwtSecret ?? (await generatedSecret(config, dataDir, log));

    const db = await openPgliteStore(join(dataDir, 'pglite'), MIGRATIONS_DIR);
    closers.add('store', () => db.close());
    if (db.migrations.applied.length > 0) log.info({ applied: db.migrations.applied }, 'migrations applied');
    const store = db.store;
    await store.ping();

    const messageLog = await LocalMessageLog.open({ dir: join(dataDir, 'log'), log, metrics });
    closers.add('message log', () => messageLog.close());
    const consumers = new LocalConsumerGroups({ log: messageLog, logger: log, metrics });

    const bus = new MemoryFanoutBus();
    closers.add('fan-out bus', () => bus.close());

    return {
      description: `embedded: PGlite and message log in ${dataDir}`,
      store,
      messageLog,
      consumers,
      bus,
      presence: new MemoryPresence(config.presenceTtlMs),
      positions: new MemoryReadPositions(),
      acks: new MemoryAckPositions(),
      idempotency: new MemoryIdempotencyStore(),
      leases: new MemoryLeases(),
      membershipLeases: new MemoryMembershipLeases(),
      rates: new MemoryRateWindows(),
      deadLetters: new LocalDeadLetters(messageLog),
      deadLetterMarks: new KyselyDeadLetterMarks(store.db),
      jwtSecret,
      readiness: {
        pglite: () => store.ping(),
        'message log': () => messageLog.ping(),
      },
      lag: () => consumers.lag(),
      close: () => closers.closeAll(),
    };
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}

/** Who holds a data folder: the process id and the process's start time (pids are reused, e.g. a container's). */
interface LockOwner {
  pid: number;
  startedAt: number;
}

/** This process's start time in ms since the epoch. */
const ownStart = () => Math.round(performance.timeOrigin);

/**
 * Makes `dir` this process's alone: PGlite and the log files must never be opened by two processes at once.
 * The lock file is created complete and atomically (written aside, then hard-linked into place, which fails when
 * it exists). A lock whose owner is gone — a SIGKILLed or crashed process — is taken over.
 */
export async function lockDataDir(dir: string): Promise<{ release(): Promise<void> }> {
  const path = join(dir, 'LOCK');
  const me: LockOwner = { pid: process.pid, startedAt: ownStart() };
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, JSON.stringify(me) + '\n');
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(tmp, path);
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'EEXIST' || attempt >= 3) throw err;
      }
      const owner = await readOwner(path);
      if (owner && owner.pid === me.pid && owner.startedAt === me.startedAt) {
        throw new Error(`the data folder ${dir} is already open in this process (pid ${owner.pid})`);
      }
      if (owner && isRunning(owner)) {
        throw new Error(`the data folder ${dir} is in use by another process (pid ${owner.pid}); stop it, or set DATA_DIR to another folder`);
      }
      await unlink(path).catch((e: unknown) => {
        if ((e as { code?: string }).code !== 'ENOENT') throw e;
      });
    }
  } finally {
    await unlink(tmp).catch(() => {});
  }
  return {
    release: async () => {
      const owner = await readOwner(path);
      if (owner?.pid === me.pid && owner.startedAt === me.startedAt) await unlink(path).catch(() => {});
    },
  };
}

async function readOwner(path: string): Promise<LockOwner | null> {
  try {
    const o = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    return typeof o.pid === 'number' && typeof o.startedAt === 'number' ? { pid: o.pid, startedAt: o.startedAt } : null;
  } catch {
    return null; // unreadable: not a lock this code wrote, treated as stale
  }
}

/** Whether the lock's owner still runs: its pid is alive and (where /proc tells) it started when the lock says. */
function isRunning(owner: LockOwner): boolean {
  if (owner.pid === process.pid) return false; // same pid, other start time: an earlier life of this pid
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EPERM') return false;
  }
  const started = linuxStartTime(owner.pid);
  // A live process with this pid that started at another time is not the owner (the pid was reused). The margin
  // is wide: /proc's boot time moves with clock steps, and wrongly calling a live owner stale would be far worse.
  return started === null || Math.abs(started - owner.startedAt) < 30_000;
}

/** Start time of a process in ms since the epoch from /proc (Linux); null where unknown. */
function linuxStartTime(pid: number): number | null {
  try {
    // Synchronous reads of two small virtual files, only when a lock is contended at start-up.
    const line = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime, clock ticks since boot) counted after the command name, which may contain spaces.
    const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(ticks) || !Number.isFinite(btime)) return null;
    return btime * 1000 + (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/**
 * Outside production, with no JWT_SECRET: a random secret made once and kept in the data folder (mode 0600), so
 * tokens survive restarts and no two installations share a key.
 */
async function generatedSecret(config: Config, dataDir: string, log: Logger): Promise<string> {
  if (config.env === 'production') throw new Error('JWT_SECRET is required in production');
  const path = join(dataDir, 'jwt-secret');
  try {
    const secret = (await readFile(path, 'utf8')).trim();
    if (secret.length < 32) throw new Error(`${path} holds a secret shorter than 32 characters; delete the file to generate a new one`);
    const mode = (await stat(path)).mode & 0o777;
    if (mode & 0o077) {
      log.warn({ path, mode: mode.toString(8) }, 'jwt secret file was readable by others; restricting it to its owner');
      await chmod(path, 0o600);
    }
    return secret;
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(32).toString('base64url');
  await writeFile(path, secret + '\n', { mode: 0o600, flag: 'wx' });
  log.info({ path }, 'generated a JWT secret for this data folder');
  return secret;
}
