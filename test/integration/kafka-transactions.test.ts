// Against the REAL broker at KAFKA_BROKERS (started by `npm run stack:up` / `npm test`): what the pipeline relies
// on from Kafka + kafkajs 2.2.4 —
//  * transactions: a read_committed consumer sees exactly the committed records, in order, and none of the
//    aborted ones (a read_uncommitted consumer does see them, so the test can fail);
//  * the idempotent producer under many concurrent `send` calls writes every record exactly once
//    (kafkajs #598 reported OUT_OF_ORDER_SEQUENCE_NUMBER for fast back-to-back sends).
// Never skipped: it needs the broker. Every wait has a deadline; no fixed sleeps.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Admin, type Consumer, type logCreator, type Producer } from '../../src/kafka/kafkajs.js';
import { waitFor } from '../support/cluster.js';
import { readSetting } from '../../src/config.js';

const brokers = readSetting('KAFKA_BROKERS');

// kafkajs logs retriable broker answers at ERROR level before retrying them; these two are expected here
// (a new transaction right after the previous commit/abort marker; a fresh group coordinator) and are dropped.
const EXPECTED = /concurrent operation on the same transaction|coordinator is not available/i;
const logCreator: logCreator =
  () =>
  ({ namespace, label, log }) => {
    const text = `${log.message} ${String(log.error ?? '')}`;
    if (!EXPECTED.test(text)) console.error(`[kafkajs ${label}] ${namespace}: ${text}`);
  };

const run = randomUUID().slice(0, 8);
const kafka = new Kafka({
  clientId: `it-kafka-tx-${run}`,
  brokers,
  logLevel: logLevel.ERROR,
  logCreator,
  connectionTimeout: 3000,
  retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
});

let admin: Admin;
const topics: string[] = [];
const groups: string[] = [];
const clients: Array<Producer | Consumer> = [];

async function createTopic(numPartitions: number): Promise<string> {
  const topic = `it.kafka-tx.${run}.${topics.length}`;
  topics.push(topic);
  await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1 }], waitForLeaders: true, timeout: 30_000 });
  await waitFor(
    async () => {
      const md = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => null);
      const parts = md?.topics[0]?.partitions ?? [];
      return parts.length === numPartitions && parts.every((p) => p.leader >= 0);
    },
    30_000,
    () => `leaders of ${topic}`,
  );
  return topic;
}

type Rec = { value: string; partition: number; offset: bigint };

/** Reads `topic` from the beginning with a fresh group until `done(records)` holds (or the deadline passes). */
async function consumeUntil(topic: string, opts: { readUncommitted: boolean; done: (recs: Rec[]) => boolean; timeoutMs?: number }): Promise<Rec[]> {
  const groupId = `it-kafka-tx-${run}-${groups.length}`;
  groups.push(groupId);
  const consumer = kafka.consumer({
    groupId,
    readUncommitted: opts.readUncommitted,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
    maxWaitTimeInMs: 100,
  });
  clients.push(consumer);
  const recs: Rec[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        recs.push({ value: message.value?.toString() ?? '', partition, offset: BigInt(message.offset) });
      },
    });
    await waitFor(
      () => opts.done(recs),
      opts.timeoutMs ?? 45_000,
      () => `records of ${topic} (have ${recs.length})`,
    );
    return recs;
  } finally {
    await consumer.disconnect();
  }
}

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  for (const c of clients) await c.disconnect().catch(() => {});
  if (admin) {
    if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 }).catch(() => {});
    if (groups.length) await admin.deleteGroups(groups).catch(() => {});
    await admin.disconnect();
  }
});

describe('Kafka transactions (kafkajs against the real broker)', () => {
  it('read_committed sees exactly the committed records, in order, none of the aborted ones', async () => {
    const topic = await createTopic(1);
    const producer = kafka.producer({
      transactionalId: `it-tx-${run}-${randomUUID()}`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    clients.push(producer);
    await producer.connect();

    const ROUNDS = 6;
    const N = 25; // committed per transaction
    const M = 17; // aborted per transaction
    const committed: string[] = [];
    const aborted: string[] = [];
    const all: string[] = []; // everything written, in write order (what read_uncommitted sees)

    for (let r = 0; r < ROUNDS; r++) {
      // Interleave: even rounds commit first, odd rounds abort first.
      for (const kind of r % 2 === 0 ? (['commit', 'abort'] as const) : (['abort', 'commit'] as const)) {
        const n = kind === 'commit' ? N : M;
        const values = Array.from({ length: n }, (_, i) => `${kind === 'commit' ? 'c' : 'a'}:${r}:${i}`);
        const tx = await producer.transaction();
        // Two sends per transaction: several batches inside one transaction.
        const half = Math.ceil(n / 2);
        await tx.send({ topic, messages: values.slice(0, half).map((value) => ({ key: 'k', value })) });
        await tx.send({ topic, messages: values.slice(half).map((value) => ({ key: 'k', value })) });
        if (kind === 'commit') {
          await tx.commit();
          committed.push(...values);
        } else {
          await tx.abort();
          aborted.push(...values);
        }
        all.push(...values);
      }
    }
    // A committed sentinel last: once a consumer has it, it has everything written before it.
    const end = await producer.transaction();
    await end.send({ topic, messages: [{ key: 'k', value: 'END' }] });
    await end.commit();
    all.push('END');
    await producer.disconnect();

    const seenEnd = (recs: Rec[]) => recs.some((x) => x.value === 'END');

    const rc = await consumeUntil(topic, { readUncommitted: false, done: seenEnd });
    const rcValues = rc.map((x) => x.value);
    expect(rcValues.filter((v) => v.startsWith('a:'))).toEqual([]);
    expect(rcValues).toEqual([...committed, 'END']);
    for (let i = 1; i < rc.length; i++) expect(rc[i]!.offset > rc[i - 1]!.offset).toBe(true);

    // Control: read_uncommitted sees the aborted records too — the assertions above can fail.
    const ru = await consumeUntil(topic, { readUncommitted: true, done: seenEnd });
    const ruValues = ru.map((x) => x.value);
    expect(ruValues).toEqual(all);
    expect(ruValues.filter((v) => v.startsWith('a:'))).toHaveLength(ROUNDS * M);
    expect(aborted).toHaveLength(ROUNDS * M);
  }, 120_000);

  it('idempotent producer: 2,000 records from concurrent sends arrive exactly once', async () => {
    const topic = await createTopic(3);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    clients.push(producer);
    await producer.connect();

    const COUNT = 2000;
    const values = Array.from({ length: COUNT }, (_, i) => `m-${i}`);
    // All sends in flight at once (kafkajs queues them; acks=-1 is required by idempotence).
    await Promise.all(values.map((value, i) => producer.send({ topic, acks: -1, messages: [{ key: `key-${i % 31}`, value }] })));
    await producer.disconnect();

    // Exactly COUNT records in the log: high watermark minus low watermark over all partitions.
    const offsets = await admin.fetchTopicOffsets(topic);
    const inLog = offsets.reduce((sum, p) => sum + (BigInt(p.high) - BigInt(p.low)), 0n);
    expect(inLog).toBe(BigInt(COUNT));

    const recs = await consumeUntil(topic, { readUncommitted: false, done: (r) => r.length >= COUNT });
    expect(recs).toHaveLength(COUNT);
    const counts = new Map<string, number>();
    for (const r of recs) counts.set(r.value, (counts.get(r.value) ?? 0) + 1);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    expect([...counts.keys()].sort()).toEqual([...values].sort());
  }, 120_000);
});
