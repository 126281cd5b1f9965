// The dead-letter port's contract and the list / replay / discard rules on top of it (src/ops/dead-letters.ts),
// run against the embedded log's local topic (marks in PGlite) and Kafka (marks in PostgreSQL).
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadLetters } from '../../src/ops/dead-letters.js';
import { DLT_HEADERS, REPLAYED_HEADER, recordDigest, type DeadLetterTopic } from '../../src/log/dead-letter.js';
import type { DeadLetterMarks } from '../../src/store/dead-letter-marks.js';

export interface DeadLetterFixture {
  /** The adapter on the dead-letter topic, and one on the source topic (to read replays back). */
  dlt: DeadLetterTopic;
  source: DeadLetterTopic;
  marks: DeadLetterMarks;
  close(): Promise<void>;
}

const dead = (source: string, partition: number, offset: string, group: string, value: string) => ({
  key: '7',
  value: Buffer.from(value),
  headers: {
    'x-origin': 'contract',
    [DLT_HEADERS.error]: `failed ${value}`,
    [DLT_HEADERS.attempts]: '3',
    [DLT_HEADERS.group]: group,
    [DLT_HEADERS.sourceTopic]: source,
    [DLT_HEADERS.sourcePartition]: String(partition),
    [DLT_HEADERS.sourceOffset]: offset,
    [DLT_HEADERS.at]: '2026-12-01T10:00:00.000Z',
  },
});

export function deadLettersContract(name: string, open: () => Promise<DeadLetterFixture>): void {
  describe(`dead letters: ${name}`, () => {
    let f: DeadLetterFixture;
    let service: DeadLetters;
    const audit: Array<Record<string, unknown>> = [];
    const offsets: string[] = [];

    beforeAll(async () => {
      f = await open();
      const sink = new Writable({ write: (chunk, _e, cb) => (audit.push(JSON.parse(String(chunk)) as Record<string, unknown>), cb()) });
      service = new DeadLetters(f.dlt, f.marks, pino({ level: 'info' }, sink));
      // Five dead letters: a source record failed in two groups (two copies), two other records, one without coordinates.
      const src = f.source.topic;
      for (const r of [
        dead(src, 1, '10', 'g-persist', 'a'),
        dead(src, 1, '10', 'g-notify', 'a'),
        dead(src, 2, '11', 'g-persist', 'b'),
        dead(src, 9, '12', 'g-persist', 'c'),
        { key: null, value: Buffer.from('d'), headers: { [DLT_HEADERS.group]: 'g-persist' } },
      ])
        offsets.push(await f.dlt.append(f.dlt.topic, 0, r));
    }, 120_000);
    afterAll(() => f?.close());

    it('append answers offsets in order; bounds and read give the records back with key, value, headers and time', async () => {
      expect(offsets.map((o) => BigInt(o) - BigInt(offsets[0]!))).toEqual([0n, 1n, 2n, 3n, 4n]);
      const [b] = await f.dlt.bounds();
      expect(b).toMatchObject({ partition: 0 });
      expect(b!.high).toBe(BigInt(offsets[4]!) + 1n);
      const read = await f.dlt.read(0, BigInt(offsets[1]!), BigInt(offsets[3]!), 10);
      expect(read.map((r) => r.offset)).toEqual([offsets[1], offsets[2]]);
      expect(read[0]).toMatchObject({ partition: 0, key: '7', timestamp: '2026-12-01T10:00:00.000Z' });
      expect(read[0]!.value!.toString()).toBe('a');
      expect(read[0]!.headers).toMatchObject({ 'x-origin': 'contract', [DLT_HEADERS.group]: 'g-notify' });
      expect(await f.dlt.read(0, BigInt(offsets[0]!), BigInt(offsets[4]!) + 1n, 2)).toHaveLength(2);
      expect(await f.dlt.partitionCount(f.source.topic)).toBe(6);
      expect(await f.dlt.partitionCount('no-such-topic-here')).toBe(0);
    });

    it('list: newest first, paged by cursor, filtered by group; pending counts every unmarked record', async () => {
      const first = await service.list({ limit: 2 });
      expect(first.records.map((r) => r.offset)).toEqual([offsets[4], offsets[3]]);
      expect(first.next).not.toBeNull();
      const second = await service.list({ limit: 10, before: first.next });
      expect(second.records.map((r) => r.offset).slice(0, 3)).toEqual([offsets[2], offsets[1], offsets[0]]);
      expect(second.records[0]).toMatchObject({
        group: 'g-persist',
        sourceTopic: f.source.topic,
        sourcePartition: 2,
        sourceOffset: '11',
        attempts: 3,
        error: 'failed b',
        preview: 'b',
        handled: null,
      });
      const notify = await service.list({ limit: 10, group: 'g-notify' });
      expect(notify.records.map((r) => r.offset)).toEqual([offsets[1]]);
      expect(await service.pending()).toBe(Number((await f.dlt.bounds())[0]!.high - (await f.dlt.bounds())[0]!.low));
    });

    it('replay: one copy per source record back to its partition, original headers kept and the replay noted; bad coordinates skipped; all marked and audited', async () => {
      const before = await service.pending();
      const records = await service.get(offsets.map((offset) => ({ partition: 0, offset })));
      expect(records.map((r) => r.offset)).toEqual(offsets);
      const res = await service.replay(records, 'user:1 ops@example.com');
      expect(res.replayed.map((r) => [r.offset, r.topic, r.toPartition])).toEqual([
        [offsets[0], f.source.topic, 1],
        [offsets[2], f.source.topic, 2],
      ]);
      expect(res.sameSource.map((r) => r.offset)).toEqual([offsets[1]]);
      expect(res.skipped.map((r) => [r.offset, r.reason])).toEqual([
        [offsets[3], `${f.source.topic} has no partition 9`],
        [offsets[4], `no ${DLT_HEADERS.sourceTopic} / ${DLT_HEADERS.sourcePartition} header`],
      ]);
      const [back] = await f.source.read(1, BigInt(res.replayed[0]!.toOffset), BigInt(res.replayed[0]!.toOffset) + 1n, 1);
      expect(back!.value!.toString()).toBe('a');
      expect(back!.key).toBe('7');
      expect(back!.headers).toEqual({ 'x-origin': 'contract', [REPLAYED_HEADER]: offsets[0] });
      // The two copies of the first source record and the second record are handled; the skipped two are not.
      expect(await service.pending()).toBe(before - 3);
      const pending = await service.list({ limit: 10 });
      expect(pending.records.map((r) => r.offset).filter((o) => offsets.includes(o))).toEqual([offsets[4], offsets[3]]);
      const all = await service.list({ limit: 10, include: 'all' });
      expect(all.records.find((r) => r.offset === offsets[1])!.handled).toMatchObject({
        action: 'replayed',
        actor: 'user:1 ops@example.com',
        replayedTo: `${f.source.topic}[1]@${res.replayed[0]!.toOffset}`,
      });
      expect(audit.filter((a) => a.action === 'replayed').map((a) => [a.offset, a.actor])).toEqual([
        [offsets[0], 'user:1 ops@example.com'],
        [offsets[2], 'user:1 ops@example.com'],
        [offsets[1], 'user:1 ops@example.com'],
      ]);
    });

    it('discard: marked, hidden from the pending list, counted out, audited; marking again is harmless', async () => {
      const before = await service.pending();
      const records = await service.get([
        { partition: 0, offset: offsets[3]! },
        { partition: 0, offset: offsets[4]! },
      ]);
      expect(await service.discard(records, 'cli:ops@host')).toEqual([
        { partition: 0, offset: offsets[3] },
        { partition: 0, offset: offsets[4] },
      ]);
      await service.discard(records, 'cli:ops@host');
      expect(await service.pending()).toBe(before - 2);
      expect((await service.list({ limit: 10 })).records.filter((r) => offsets.includes(r.offset))).toEqual([]);
      const selected = await service.select({ fromOffset: BigInt(offsets[0]!), include: 'all' });
      expect(selected.map((s) => [s.record.offset, s.mark?.action])).toEqual(offsets.map((o, i) => [o, i < 3 ? 'replayed' : 'discarded']));
      expect(await service.select({ fromOffset: BigInt(offsets[0]!) })).toEqual([]);
      expect(audit.filter((a) => a.action === 'discarded').map((a) => a.offset)).toEqual([offsets[3], offsets[4], offsets[3], offsets[4]]);
    });

    it('marks left by an earlier topic of the same name hide nothing: a different record at the offset, or marks past the end', async () => {
      // The store outlives the topic (a new Kafka cluster, a wiped data folder): offsets start again at 0.
      const src = f.source.topic;
      const fresh = await f.dlt.append(f.dlt.topic, 0, dead(src, 3, '20', 'g-persist', 'new record'));
      const old = { topic: f.dlt.topic, partition: 0, action: 'discarded' as const, actor: 'cli:old@host', replayedTo: null };
      await f.marks.mark([{ ...old, offset: fresh, digest: recordDigest(dead(src, 3, '20', 'g-persist', 'old record')) }]);
      const listed = await service.list({ limit: 10 });
      expect(listed.records.find((r) => r.offset === fresh)).toMatchObject({ preview: 'new record', handled: null });
      expect((await f.marks.marksOf(f.dlt.topic, 0, [fresh])).size).toBe(0);
      expect(audit.filter((a) => a.action === 'discarded')).toHaveLength(4);

      // A mark at or past the partition's end cannot name a record of this topic: every earlier mark goes.
      const [b] = await f.dlt.bounds();
      await f.marks.mark([{ ...old, offset: (b!.high + 5n).toString(), digest: null }]);
      // Made before the end is read: the store's clock has microseconds, ours milliseconds.
      await sleep(10);
      expect(await service.pending()).toBe(Number(b!.high - b!.low));
      expect((await f.marks.marksOf(f.dlt.topic, 0, offsets)).size).toBe(0);
      expect((await service.list({ limit: 10 })).records.find((r) => r.offset === offsets[3])).toMatchObject({ handled: null });
    });
  });
}
