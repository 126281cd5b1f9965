// What only the embedded log has to prove (Kafka proves it in its own way): its file format, recovery from a torn
// write and from a transaction cut short, acknowledged records surviving a SIGKILL, prompt wake-up of consumers,
// reads across big logs, and one active member per group.
import { spawn } from 'node:child_process';
import { appendFile, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { partitionFor } from '../../src/log/partitioning.js';
import { LocalConsumerGroups } from '../../src/local-log/consumers.js';
import { decodeRecords, encodeFrame, scanFrame, type LogRecord } from '../../src/local-log/frame.js';
import { LocalMessageLog, MAX_RECORD_BYTES } from '../../src/local-log/local-log.js';
import type { ConsumedRecord } from '../../src/log/message-log.js';
import { TOPICS } from '../../src/log/message-log.js';
import { TOPIC_PARTITIONS } from '../../src/shared/defaults.js';
import type { NewMessage } from '../../src/shared/model.js';
import { ROOT, waitFor } from '../support/cluster.js';
import { newMessage, tempDirs, testLogger, uniqueRoomId } from './support.js';

const logger = testLogger();
const dirs = tempDirs('local-log');
afterAll(() => dirs.removeAll());
const freshDir = () => dirs.make();

const openLog = (dir: string) => LocalMessageLog.open({ dir, log: logger });
/** The embedded log's partitions of chat.messages (it opens its topics with the app's counts). */
const PARTITIONS = TOPIC_PARTITIONS[TOPICS.messages];
const partFile = (dir: string, roomId: string) => join(dir, TOPICS.messages, `${partitionFor(roomId, PARTITIONS)}.log`);
const text = (r: ConsumedRecord) => JSON.parse(r.value!.toString()) as NewMessage;

/** Reads every record of chat.messages with a fresh group, until `count` of them arrived. */
async function readAll(log: LocalMessageLog, count: number): Promise<ConsumedRecord[]> {
  const got: ConsumedRecord[] = [];
  const groups = new LocalConsumerGroups({ log, logger });
  const g = groups.create({ groupId: `read-all-${Math.random()}`, topic: TOPICS.messages, handler: async (rs) => void got.push(...rs) });
  await g.start();
  await waitFor(
    () => got.length >= count,
    10_000,
    () => `${count} records, have ${got.length}`,
  );
  await g.close();
  return got;
}

function twoRooms(): [string, string] {
  const a = uniqueRoomId();
  for (;;) {
    const b = uniqueRoomId();
    if (partitionFor(a, PARTITIONS) !== partitionFor(b, PARTITIONS)) return [a, b];
  }
}

describe('embedded log: frame format', () => {
  it('round-trips records (null key and value, headers, non-ASCII) and rejects damaged or short frames', () => {
    const records: LogRecord[] = [
      { key: '42', value: Buffer.from('{"a":"ü😀"}'), headers: { 'x-error': 'boom ✗', empty: '' } },
      { key: null, value: null, headers: {} },
      { key: '', value: Buffer.alloc(0), headers: {} },
    ];
    const frame = encodeFrame(7n, 1234n, records, [0, 3]);
    const scan = scanFrame(frame, 0);
    if (scan.status !== 'ok') throw new Error(scan.status);
    expect(scan.meta).toEqual({ writeSeq: 7n, baseOffset: 1234n, count: 3, participants: [0, 3], size: frame.length });
    expect(decodeRecords(scan.payload, scan.recordsAt, 3)).toEqual(records);

    for (let cut = 0; cut < frame.length; cut++) expect(scanFrame(frame.subarray(0, cut), 0).status).toBe('incomplete');
    for (const at of [0, 4, 8, 12, 20, frame.length - 1]) {
      const bad = Buffer.from(frame);
      bad[at] = bad[at]! ^ 0xff;
      expect(scanFrame(bad, 0).status).not.toBe('ok');
    }
  });
});

describe('embedded log: recovery at load', () => {
  it('cuts a torn or damaged tail and goes on at the right offset', async () => {
    const dir = await freshDir();
    const room = uniqueRoomId();
    let log = await openLog(dir);
    const sent: NewMessage[] = [];
    for (let i = 0; i < 10; i++) {
      const m = newMessage(room, `r${i}`);
      sent.push(m);
      await log.append(m);
    }
    await log.close();
    const file = partFile(dir, room);
    const goodSize = (await stat(file)).size;

    // A crash in the middle of the next write: half a frame at the end.
    const torn = encodeFrame(99n, 10n, [{ key: room, value: Buffer.from('x'.repeat(200)), headers: {} }]);
    await appendFile(file, torn.subarray(0, 100));
    log = await openLog(dir);
    expect(await log.latestSeq(room)).toBe('10');
    expect((await stat(file)).size).toBe(goodSize);
    const next = await log.append(newMessage(room, 'after the tear'));
    expect(next.offset).toBe('10');
    await log.close();

    // A damaged last frame (a flipped byte in its payload) is cut off too.
    const bytes = await readFile(file);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0xff;
    await writeFile(file, bytes);
    log = await openLog(dir);
    expect(await log.latestSeq(room)).toBe('10');
    const all = await readAll(log, 10);
    expect(all.map((r) => text(r).id)).toEqual(sent.map((m) => m.id));
    await log.close();
  });

  it('rolls back a transaction whose frame in another partition never reached the disk, and keeps complete ones', async () => {
    const dir = await freshDir();
    const [a, b] = twoRooms();
    let log = await openLog(dir);
    await log.append(newMessage(a, 'a0'));
    await log.append(newMessage(b, 'b0'));
    // A complete transaction, then a single append to one of its partitions: must survive the load check.
    const kept = await log.appendAtomically([newMessage(a, 'kept-a'), newMessage(b, 'kept-b')]);
    await log.append(newMessage(b, 'b1'));
    const sizeB = (await stat(partFile(dir, b))).size;
    const lost = await log.appendAtomically([newMessage(a, 'lost-a'), newMessage(b, 'lost-b')]);
    await log.close();
    expect(kept.map((p) => p.offset)).toEqual(['1', '1']);
    expect(lost.map((p) => p.offset)).toEqual(['2', '3']);

    // The crash came after the transaction's frame in a's partition and before the one in b's.
    await truncate(partFile(dir, b), sizeB);
    log = await openLog(dir);
    expect(await log.latestSeq(a)).toBe('2');
    expect(await log.latestSeq(b)).toBe('3');
    const all = await readAll(log, 5);
    expect(all.map((r) => text(r).content).sort()).toEqual(['a0', 'b0', 'b1', 'kept-a', 'kept-b']);
    expect((await log.append(newMessage(a, 'a-next'))).offset).toBe('2');
    await log.close();
  });
});

describe('embedded log: a SIGKILLed writer', () => {
  it('loses no acknowledged record, tears no transaction, and leaves a log that opens', async () => {
    const dir = await freshDir();
    const [a, b] = twoRooms();
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/contract/fixtures/local-log-writer.ts'), dir, a, b], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acked = new Map<string, string>(); // id -> "partition:offset"
    const txs: string[][] = [];
    const lines = createInterface({ input: child.stdout! });
    const exited = new Promise((r) => child.once('exit', r));
    lines.on('line', (line) => {
      if (!line.endsWith(' end')) return;
      const [kind, ...rest] = line.split(' ');
      if (kind === 'one') acked.set(rest[0]!, `${rest[1]}:${rest[2]}`);
      if (kind === 'tx') {
        const members = rest[0]!.split(',').map((s) => s.split('@') as [string, string]);
        for (const [id, at] of members) acked.set(id, at);
        txs.push(members.map(([id]) => id));
      }
    });
    try {
      await waitFor(
        () => acked.size >= 600,
        30_000,
        () => `600 acknowledged appends, have ${acked.size}`,
      );
    } finally {
      child.kill('SIGKILL');
      await exited;
    }

    const log = await openLog(dir);
    const ends = log.endOffsets(TOPICS.messages);
    const total = Number(ends.reduce((s, e) => s + e, 0n));
    expect(total).toBeGreaterThanOrEqual(acked.size);
    const all = await readAll(log, total);
    expect(all).toHaveLength(total);
    const where = new Map(all.map((r) => [text(r).id, `${r.partition}:${r.offset}`]));
    expect(where.size).toBe(total); // no record twice
    for (const [id, at] of acked) expect(where.get(id), `acknowledged ${id}`).toBe(at);
    // Offsets are dense per partition.
    for (const p of new Set(all.map((r) => r.partition))) {
      const offsets = all.filter((r) => r.partition === p).map((r) => Number(r.offset));
      expect(offsets).toEqual(offsets.map((_, i) => i));
    }
    // Transactions: all of their records or none (acknowledged ones are complete; the one in flight may be absent).
    const txOf = new Map<string, number>();
    all.forEach((r) => {
      const m = /^tx (\d+) /.exec(text(r).content);
      if (m) txOf.set(m[1]!, (txOf.get(m[1]!) ?? 0) + 1);
    });
    for (const [i, n] of txOf) expect(n, `transaction ${i}`).toBe(3);
    expect(txs.length).toBeGreaterThan(0);
    await log.close();
  });
});

describe('embedded log: consumers', () => {
  it('wakes a caught-up consumer on append, without polling delay', async () => {
    const dir = await freshDir();
    const log = await openLog(dir);
    const room = uniqueRoomId();
    let waiting: { id: string; resolve(): void } | null = null;
    const groups = new LocalConsumerGroups({ log, logger });
    const g = groups.create({
      groupId: 'latency',
      topic: TOPICS.messages,
      handler: async (rs) => {
        for (const r of rs) if (waiting && text(r).id === waiting.id) waiting.resolve();
      },
    });
    await g.start();
    const latencies: number[] = [];
    for (let i = 0; i < 40; i++) {
      const m = newMessage(room, `ping ${i}`);
      const t0 = performance.now();
      const delivered = new Promise<void>((resolve) => (waiting = { id: m.id, resolve }));
      await log.append(m);
      await delivered;
      latencies.push(performance.now() - t0);
    }
    latencies.sort((x, y) => x - y);
    const median = latencies[20]!;
    // fsync included; a poller with a sleep of even 10 ms would show a median of about 5 ms more than this.
    expect(median, `median append-to-handler ${median.toFixed(2)} ms`).toBeLessThan(15);
    await log.close();
  });

  it('hands a backlog over in batches (what is there, capped at 500), each after the previous one resolved', async () => {
    const dir = await freshDir();
    const log = await openLog(dir);
    const room = uniqueRoomId();
    await Promise.all(Array.from({ length: 1200 }, (_, i) => log.append(newMessage(room, `b${i}`))));
    const sizes: number[] = [];
    let inFlight = 0;
    let overlapped = false;
    const groups = new LocalConsumerGroups({ log, logger });
    const g = groups.create({
      groupId: 'backlog',
      topic: TOPICS.messages,
      handler: async (rs) => {
        overlapped ||= inFlight > 0;
        inFlight++;
        await new Promise((r) => setImmediate(r));
        sizes.push(rs.length);
        inFlight--;
      },
    });
    await g.start();
    await waitFor(() => sizes.reduce((s, n) => s + n, 0) >= 1200, 5000, 'the backlog');
    expect(sizes).toEqual([500, 500, 200]);
    expect(overlapped).toBe(false);
    await log.close();
  });

  it('rejects a record too large for the log without failing the appends written with it', async () => {
    const dir = await freshDir();
    const log = await openLog(dir);
    const room = uniqueRoomId();
    const ok = log.append(newMessage(room, 'small'));
    const tooBig = log.append(newMessage(room, 'x'.repeat(MAX_RECORD_BYTES)));
    await expect(tooBig).rejects.toThrow(/larger than/);
    expect((await ok).offset).toBe('0');
    expect((await log.append(newMessage(room, 'next'))).offset).toBe('1');
    await log.close();
  });

  it('reads back a log of many frames and frames larger than a read, from any offset', async () => {
    const dir = await freshDir();
    let log = await openLog(dir);
    const room = uniqueRoomId();
    const sent: NewMessage[] = [];
    for (let round = 0; round < 20; round++) {
      const batch = Array.from({ length: 100 }, (_, i) => newMessage(room, `${round}.${i} ${'p'.repeat(300)}`));
      sent.push(...batch);
      await Promise.all(batch.map((m) => log.append(m)));
    }
    // One transaction of ~700 KiB: a single frame bigger than the 256 KiB read chunk.
    const big = Array.from({ length: 600 }, (_, i) => newMessage(room, `big ${i} ${'q'.repeat(1000)}`));
    sent.push(...big);
    await log.appendAtomically(big);
    await log.close();

    log = await openLog(dir);
    expect(await log.latestSeq(room)).toBe(String(sent.length));
    const all = await readAll(log, sent.length);
    expect(all.map((r) => text(r).id)).toEqual(sent.map((m) => m.id));
    const file = log.topic(TOPICS.messages).partitions[partitionFor(room, PARTITIONS)]!;
    for (const from of [0, 1, 99, 100, 1234, 1999, 2000, 2300, 2599]) {
      const { records } = await file.read(BigInt(from), null, 10, 1 << 20);
      expect(records.map((r) => Number(r.offset))).toEqual(Array.from({ length: Math.min(10, sent.length - from) }, (_, i) => from + i));
      expect(JSON.parse(records[0]!.value!.toString()).id).toBe(sent[from]!.id);
    }
    await log.close();
  });

  it('runs one member of a group at a time: a second one takes over from the committed offset when the first leaves', async () => {
    const dir = await freshDir();
    const log = await openLog(dir);
    const room = uniqueRoomId();
    const groups = new LocalConsumerGroups({ log, logger });
    const seen1: string[] = [];
    const seen2: string[] = [];
    const m1 = groups.create({ groupId: 'shared', topic: TOPICS.messages, handler: async (rs) => void seen1.push(...rs.map((r) => text(r).content)) });
    const m2 = groups.create({ groupId: 'shared', topic: TOPICS.messages, handler: async (rs) => void seen2.push(...rs.map((r) => text(r).content)) });
    await m1.start();
    await m2.start();
    for (const c of ['a', 'b', 'c']) await log.append(newMessage(room, c));
    await waitFor(() => seen1.length >= 3, 5000, 'the first member');
    await m1.close();
    for (const c of ['d', 'e']) await log.append(newMessage(room, c));
    await waitFor(() => seen2.length >= 2, 5000, 'the second member');
    expect(seen1).toEqual(['a', 'b', 'c']);
    expect(seen2).toEqual(['d', 'e']);
    const p = partitionFor(room, PARTITIONS);
    expect((await groups.lag()).filter((l) => l.partition === p).map((l) => l.group)).toEqual(['shared']);
    await waitFor(async () => (await groups.lag()).find((l) => l.partition === p)?.lag === 0, 5000, 'lag 0 once the batch is committed');
    expect(await readdir(join(dir, 'groups'))).toEqual(['group-shared.json']);
    await log.close();
  });
});
