// The MessageLog + ConsumerGroups contract, written once and run against every adapter (local files, Kafka).
// On Kafka the suite writes to topics of its own (created and deleted by the factory): its records, whose rooms do
// not exist, must never reach an app server's consumers. Assertions still look only at the suite's own rooms
// (unique ids, the record key), and every group id is unique.
import { afterAll, describe, expect, it } from 'vitest';
import { partitionFor } from '../../src/log/partitioning.js';
import type { BatchHandler, ConsumedRecord, ConsumerGroup, ConsumerGroups, MessageLog } from '../../src/log/message-log.js';
import type { TopicNames } from '../../src/log/message-log.js';
import { DLT_HEADERS } from '../../src/log/dead-letter.js';
import type { Appended, NewMessage } from '../../src/shared/model.js';
import { waitFor } from '../support/cluster.js';
import { newMessage, outage, uniqueName, uniqueRoomId } from './support.js';

export interface OpenLog {
  log: MessageLog;
  /** Groups on this log, with maxAttempts = MAX_ATTEMPTS and a short backoff. */
  groups: ConsumerGroups;
  /** Closes every group made here, then the log: what a process exit leaves behind. */
  close(): Promise<void>;
}

export interface LogFactory {
  /** Opens the log; opening again after close is a restart of the process on the same data. */
  open(): Promise<OpenLog>;
  /** Partitions of chat.messages. */
  partitions: number;
  /** How long a new group may take to receive its first record (Kafka: joining the group). */
  deliveryMs: number;
  /** The topics the log writes (the Kafka suite uses its own, so no app server ever reads its test records). */
  topics: TopicNames;
}

/** What the factories configure the consumer groups with. */
export const MAX_ATTEMPTS = 3;

interface Collected {
  group: ConsumerGroup;
  /** Every record of our rooms handed to the handler, in delivery order (repeats included). */
  seen: ConsumedRecord[];
  /** Records of our rooms in batches whose handler call resolved. */
  done: ConsumedRecord[];
  /** Every handler call that held records of our rooms: how many records it had, and ours among them. */
  calls: Array<{ size: number; ours: ConsumedRecord[] }>;
  /** Partitions and offsets of every batch (all records, ours or not). */
  batches: Array<Array<[number, string]>>;
}

/**
 * Starts a group that watches the records whose key is one of `keys`. `fail` may throw for a call (with the
 * records of our rooms in it) to make the batch fail.
 */
async function watch(
  groups: ConsumerGroups,
  topic: string,
  keys: readonly string[],
  opts: { groupId?: string; fail?: (ours: ConsumedRecord[]) => void } = {},
): Promise<Collected> {
  const mine = new Set(keys);
  const c: Omit<Collected, 'group'> = { seen: [], done: [], calls: [], batches: [] };
  const handler: BatchHandler = async (records) => {
    c.batches.push(records.map((r) => [r.partition, r.offset]));
    const ours = records.filter((r) => r.key !== null && mine.has(r.key));
    if (ours.length === 0) return;
    c.seen.push(...ours);
    c.calls.push({ size: records.length, ours });
    opts.fail?.(ours);
    c.done.push(...ours);
  };
  const group = groups.create({ groupId: opts.groupId ?? uniqueName('contract'), topic, handler });
  await group.start();
  return { group, ...c } as Collected;
}

const text = (r: ConsumedRecord) => JSON.parse(r.value!.toString('utf8')) as NewMessage;
const ids = (rs: readonly ConsumedRecord[]) => rs.map((r) => text(r).id);

/** Two rooms that live in different partitions. */
function twoRooms(partitions: number): [string, string] {
  const a = uniqueRoomId();
  for (;;) {
    const b = uniqueRoomId();
    if (partitionFor(b, partitions) !== partitionFor(a, partitions)) return [a, b];
  }
}

export function messageLogContract(name: string, factory: LogFactory): void {
  describe(`MessageLog + ConsumerGroups contract: ${name}`, () => {
    const open: OpenLog[] = [];
    const start = async () => {
      const o = await factory.open();
      open.push(o);
      return o;
    };
    afterAll(async () => {
      for (const o of open) await o.close().catch(() => {});
    });
    const deadline = () => factory.deliveryMs;

    it('numbers each record at append (seq = offset + 1), keeps each room in one partition in append order, and every group gets every record in that order', async () => {
      const { log, groups, close } = await start();
      const [a, b] = twoRooms(factory.partitions);
      const sent: Array<{ m: NewMessage; at: Promise<Appended> }> = [];
      // Called back to back without waiting: the order of the calls is the order of the room.
      for (let i = 0; i < 30; i++) {
        for (const room of [a, b]) {
          const m = newMessage(room, `m${i}`);
          sent.push({ m, at: log.append(m) });
        }
      }
      const placed = await Promise.all(sent.map((s) => s.at));
      for (const room of [a, b]) {
        const mine = placed.filter((_, i) => sent[i]!.m.roomId === room);
        expect(new Set(mine.map((p) => p.partition))).toEqual(new Set([partitionFor(room, factory.partitions)]));
        for (const p of mine) expect(p.seq).toBe((BigInt(p.offset) + 1n).toString());
        for (let i = 1; i < mine.length; i++) expect(BigInt(mine[i]!.offset)).toBeGreaterThan(BigInt(mine[i - 1]!.offset));
        expect(BigInt(await log.latestSeq(room))).toBeGreaterThanOrEqual(BigInt(mine[mine.length - 1]!.seq));
      }

      const g1 = await watch(groups, factory.topics.messages, [a, b]);
      const g2 = await watch(groups, factory.topics.messages, [a, b]);
      for (const g of [g1, g2]) {
        await waitFor(
          () => g.done.length >= 60,
          deadline(),
          () => `60 records, have ${g.done.length}`,
        );
        for (const room of [a, b]) {
          const expected = sent.filter((s) => s.m.roomId === room);
          const got = g.done.filter((r) => r.key === room);
          expect(ids(got)).toEqual(expected.map((s) => s.m.id));
          expect(got.map((r) => r.offset)).toEqual(placed.filter((_, i) => sent[i]!.m.roomId === room).map((p) => p.offset));
          expect(got.map((r) => r.partition)).toEqual(got.map(() => partitionFor(room, factory.partitions)));
          expect(got.map((r) => text(r))).toEqual(expected.map((s) => s.m));
        }
        // A batch is one partition, in offset order (Kafka's transaction markers may leave gaps).
        for (const batch of g.batches) {
          expect(new Set(batch.map(([p]) => p)).size).toBe(1);
          for (let i = 1; i < batch.length; i++) expect(BigInt(batch[i]![1])).toBeGreaterThan(BigInt(batch[i - 1]![1]));
        }
        expect(g.group.healthy).toBe(true);
      }
      await close();
    });

    it('appendAtomically writes all of its records or none of them', async () => {
      const { log, groups, close } = await start();
      const [a, b] = twoRooms(factory.partitions);
      const tx = [newMessage(a, 'tx-1'), newMessage(b, 'tx-2'), newMessage(a, 'tx-3')];
      const placed = await log.appendAtomically(tx);
      expect(placed.map((p) => p.partition)).toEqual(tx.map((m) => partitionFor(m.roomId, factory.partitions)));
      for (const p of placed) expect(p.seq).toBe((BigInt(p.offset) + 1n).toString());
      expect(BigInt(placed[2]!.offset)).toBeGreaterThan(BigInt(placed[0]!.offset));

      // A transaction that fails part-way (its second record cannot be placed) leaves nothing behind.
      const doomed = newMessage(a, 'doomed');
      await expect(log.appendAtomically([doomed, newMessage('not-a-room', 'bad')])).rejects.toThrow();
      const marker = newMessage(a, 'marker');
      await log.append(marker);

      const g = await watch(groups, factory.topics.messages, [a, b]);
      // Partitions are consumed independently: wait for each room's last record (in a's partition, the marker
      // comes after where the failed transaction's record would be).
      await waitFor(() => g.done.some((r) => text(r).id === marker.id), deadline(), 'the marker');
      await waitFor(() => g.done.some((r) => text(r).id === tx[1]!.id), deadline(), "the transaction's record in the other room");
      expect(ids(g.done.filter((r) => r.key === a))).toEqual([tx[0]!.id, tx[2]!.id, marker.id]);
      expect(ids(g.done.filter((r) => r.key === b))).toEqual([tx[1]!.id]);
      expect(
        g.done
          .filter((r) => r.key === a)
          .map((r) => r.offset)
          .slice(0, 2),
      ).toEqual([placed[0]!.offset, placed[2]!.offset]);
      await close();
    });

    it('publish keeps key, value, headers and per-key order on the other topics', async () => {
      const { log, groups, close } = await start();
      const room = uniqueRoomId();
      for (let i = 0; i < 5; i++) await log.publish(factory.topics.readReceipts, room, { userId: '7', seq: String(i + 1) }, { 'x-n': String(i) });
      const g = await watch(groups, factory.topics.readReceipts, [room]);
      await waitFor(
        () => g.done.length >= 5,
        deadline(),
        () => `5 receipts, have ${g.done.length}`,
      );
      expect(g.done).toHaveLength(5);
      expect(g.done.map((r) => JSON.parse(r.value!.toString()))).toEqual([1, 2, 3, 4, 5].map((n) => ({ userId: '7', seq: String(n) })));
      expect(g.done.map((r) => r.headers['x-n'])).toEqual(['0', '1', '2', '3', '4']);
      expect(new Set(g.done.map((r) => `${r.topic}/${r.partition}`)).size).toBe(1);
      await close();
    });

    it('is durable: after a restart the records, their offsets and latestSeq are still there', async () => {
      const first = await start();
      const room = uniqueRoomId();
      const sent = [0, 1, 2, 3, 4].map((i) => newMessage(room, `durable-${i}`));
      const placed: Appended[] = [];
      for (const m of sent) placed.push(await first.log.append(m));
      await first.close();

      const second = await start();
      expect(BigInt(await second.log.latestSeq(room))).toBeGreaterThanOrEqual(BigInt(placed[4]!.seq));
      const g = await watch(second.groups, factory.topics.messages, [room]);
      await waitFor(
        () => g.done.length >= 5,
        deadline(),
        () => `5 records, have ${g.done.length}`,
      );
      expect(g.done.map((r) => text(r))).toEqual(sent);
      expect(g.done.map((r) => r.offset)).toEqual(placed.map((p) => p.offset));
      await second.close();
    });

    it('commits only handled batches: after a crash the committed records stay done and the uncommitted ones come again', async () => {
      const groupId = uniqueName('contract-redeliver');
      const room = uniqueRoomId();
      const first = await start();
      const early = [1, 2, 3].map((i) => newMessage(room, `early-${i}`));
      for (const m of early) await first.log.append(m);
      let down = true;
      const lateIds = new Set<string>();
      const g1 = await watch(first.groups, factory.topics.messages, [room], {
        groupId,
        // The handler's database is "down" for the late records: the batch is retried, never committed.
        fail: (ours) => {
          if (down && ours.some((r) => lateIds.has(text(r).id))) throw outage();
        },
      });
      await waitFor(
        () => g1.done.length >= 3,
        deadline(),
        () => `the early records, have ${g1.done.length}`,
      );
      const late = [1, 2].map((i) => newMessage(room, `late-${i}`));
      for (const m of late) lateIds.add(m.id);
      for (const m of late) await first.log.append(m);
      // The batch holding the first late record fails again and again (the second may or may not be in it).
      await waitFor(() => g1.seen.filter((r) => text(r).id === late[0]!.id).length >= 2, deadline(), 'the late records to be tried twice');
      expect(ids(g1.done)).toEqual(early.map((m) => m.id));
      // The crash: the process goes away while the batch is still failing.
      await first.close();

      down = false;
      const second = await start();
      const g2 = await watch(second.groups, factory.topics.messages, [room], { groupId });
      const marker = newMessage(room, 'after-restart');
      await second.log.append(marker);
      await waitFor(() => g2.done.some((r) => text(r).id === marker.id), deadline(), 'the marker after the restart');
      expect(ids(g2.seen)).toEqual([...late.map((m) => m.id), marker.id]);
      await second.close();
    });

    it(`dead-letters a poison record after ${MAX_ATTEMPTS} attempts, with its error and origin, and goes on with the partition`, async () => {
      const { log, groups, close } = await start();
      const room = uniqueRoomId();
      const groupId = uniqueName('contract-poison');
      const good1 = newMessage(room, 'good-1');
      const poison = newMessage(room, 'poison');
      const good2 = newMessage(room, 'good-2');
      const dlt = await watch(groups, factory.topics.deadLetter, [room]);
      const g = await watch(groups, factory.topics.messages, [room], {
        groupId,
        fail: (ours) => {
          if (ours.some((r) => text(r).id === poison.id)) throw new Error(`cannot store ${poison.id}`);
        },
      });
      await log.append(good1);
      const at = await log.append(poison);
      await log.append(good2);
      await waitFor(() => g.done.some((r) => text(r).id === good2.id), deadline(), 'the record after the poison one');
      await waitFor(() => dlt.done.length >= 1, deadline(), 'the dead letter');
      // Nothing else reaches the dead-letter topic for this room: a marker published after it arrives alone.
      await log.publish(factory.topics.deadLetter, room, 'marker');
      await waitFor(() => dlt.done.some((r) => r.value?.toString() === 'marker'), deadline(), 'the dead-letter marker');

      expect([...new Set(ids(g.done))]).toEqual([good1.id, good2.id]);
      const alone = g.calls.filter((c) => c.size === 1 && text(c.ours[0]!).id === poison.id);
      expect(alone).toHaveLength(MAX_ATTEMPTS);
      expect(dlt.done).toHaveLength(2);
      const letter = dlt.done[0]!;
      expect(letter.key).toBe(room);
      expect(text(letter)).toEqual(poison);
      expect(letter.headers[DLT_HEADERS.error]).toContain(`cannot store ${poison.id}`);
      expect(letter.headers[DLT_HEADERS.attempts]).toBe(String(MAX_ATTEMPTS));
      expect(letter.headers[DLT_HEADERS.group]).toBe(groupId);
      expect(letter.headers[DLT_HEADERS.sourceTopic]).toBe(factory.topics.messages);
      expect(letter.headers[DLT_HEADERS.sourcePartition]).toBe(String(at.partition));
      expect(letter.headers[DLT_HEADERS.sourceOffset]).toBe(at.offset);
      expect(g.group.healthy).toBe(true);
      await close();
    });
  });
}
