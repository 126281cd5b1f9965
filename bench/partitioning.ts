// Partitioning (claim 1, comparison experiment), with kafkajs only (no chat server): why key = roomId matters.
// A temporary topic with 6 partitions; K concurrent senders in one room; each message gets the room's send
// sequence number when it is accepted (a shared counter, like the gateway accepting SENDs), then is produced
// with key = roomId (variant A) or key = userId (variant B, spread over partitions by the default partitioner).
// One consumer reads every partition (partitionsConsumedConcurrently = partitions, as a consumer group with one
// member per partition would) and records the order in which the room's messages are processed.
//
// npm run bench -- partitioning [--senders 20] [--messages 1000] [--repeats 3] [--partitions 6] [--think-ms 0] [--work-ms 0]
//   --think-ms: each sender pauses a random 0..think-ms between its sends
//   --work-ms:  simulated processing time per consumed message (awaited), makes partitions overlap more
//   --producer: queue (default) = like the gateway (src/kafka/produce-lane.ts): accepted messages join one FIFO queue,
//               one produce request in flight carries everything queued meanwhile, so the wire order is the
//               accepted order; direct = every sender calls producer.send() itself (kafkajs may then reorder
//               concurrent calls before they reach the wire, even within one partition)
import { randomUUID } from 'node:crypto';
import { readSetting } from '../src/config.js';
import { Kafka, Partitioners, logLevel, type Consumer, type Producer } from '../src/kafka/kafkajs.js';
import { Flags, appendResults, fmt, printTable, progress, round, sleep } from './lib.js';

interface RunResult {
  variant: 'A key=roomId' | 'B key=userId';
  repeat: number;
  messages: number;
  partitionsUsed: number;
  adjacentInversions: number;
  pairInversions: number;
  outOfOrder: number;
  produceMs: number;
}

export async function run(args: string[]): Promise<void> {
  const f = new Flags(args, ['senders', 'messages', 'repeats', 'partitions', 'think-ms', 'work-ms', 'producer', 'brokers']);
  const p = {
    senders: f.int('senders', 20),
    messages: f.int('messages', 1000),
    repeats: f.int('repeats', 3),
    partitions: f.int('partitions', 6),
    thinkMs: f.num('think-ms', 0),
    workMs: f.num('work-ms', 0),
    producer: f.str('producer', 'queue'),
    brokers: f.str('brokers', readSetting('KAFKA_BROKERS').join(',')).split(','),
  };
  if (p.producer !== 'queue' && p.producer !== 'direct') throw new Error('--producer must be queue or direct');
  if (p.brokers.some((b) => !/^127\.0\.0\.1:\d+$|^localhost:\d+$/.test(b.trim()))) throw new Error('partitioning only talks to a local broker (127.0.0.1)');
  const topic = `bench.partitioning.${randomUUID().slice(0, 8)}`;
  const groupId = `bench-partitioning-${randomUUID().slice(0, 8)}`;
  progress(`partitioning: topic ${topic} (${p.partitions} partitions), ${p.senders} senders, ${p.messages} messages per run, ${p.repeats} repeats per variant`);

  const kafka = new Kafka({ clientId: 'bench-partitioning', brokers: p.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  // The chat server's producer settings: idempotent, one request in flight.
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  let consumer: Consumer | null = null;
  const results: RunResult[] = [];
  await admin.connect();
  let topicCreated = false;
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: p.partitions, replicationFactor: 1 }], waitForLeaders: true });
    topicCreated = true;
    await producer.connect();
    const append = p.producer === 'queue' ? fifoAppender(producer, topic) : (m: Msg) => producer.send({ topic, messages: [m] }).then(() => {});

    // run key -> processing order (the accepted seqs) and partitions seen.
    const processed = new Map<string, number[]>();
    const partitionsSeen = new Map<string, Set<number>>();
    consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const joined = new Promise<void>((resolve) => consumer!.on(consumer!.events.GROUP_JOIN, () => resolve()));
    await consumer.run({
      partitionsConsumedConcurrently: p.partitions,
      eachMessage: async ({ partition, message }) => {
        const v = JSON.parse(message.value!.toString()) as { run: string; seq: number };
        let list = processed.get(v.run);
        if (!list) processed.set(v.run, (list = []));
        list.push(v.seq);
        let parts = partitionsSeen.get(v.run);
        if (!parts) partitionsSeen.set(v.run, (parts = new Set()));
        parts.add(partition);
        if (p.workMs > 0) await sleep(p.workMs);
      },
    });
    await joined;
    progress('consumer joined its group');

    for (let rep = 1; rep <= p.repeats; rep++) {
      for (const variant of ['A key=roomId', 'B key=userId'] as const) {
        const runKey = `${variant[0]}-${rep}`;
        const roomId = String(1_000_000 + rep * 10 + (variant[0] === 'A' ? 1 : 2));
        let counter = 0;
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: p.senders }, async (_, s) => {
            const userId = String(5000 + s);
            for (;;) {
              if (counter >= p.messages) return;
              // Accepted now: the room's send order is this counter's order.
              const seq = ++counter;
              const key = variant[0] === 'A' ? roomId : userId;
              await append({ key, value: JSON.stringify({ run: runKey, seq, roomId, userId }) });
              if (p.thinkMs > 0) await sleep(Math.random() * p.thinkMs);
            }
          }),
        );
        const produceMs = performance.now() - t0;
        const deadline = Date.now() + 60_000;
        while ((processed.get(runKey)?.length ?? 0) < p.messages && Date.now() < deadline) await sleep(20);
        const order = processed.get(runKey) ?? [];
        if (order.length < p.messages) throw new Error(`run ${runKey}: consumed ${order.length} of ${p.messages} within 60 s`);
        const r: RunResult = {
          variant,
          repeat: rep,
          messages: order.length,
          partitionsUsed: partitionsSeen.get(runKey)?.size ?? 0,
          ...countInversions(order),
          produceMs,
        };
        results.push(r);
        progress(
          `${variant} run ${rep}: ${r.messages} msgs over ${r.partitionsUsed} partition(s) in ${fmt(produceMs, 0)} ms; adjacent inversions ${r.adjacentInversions}, ` +
            `pair inversions ${r.pairInversions}, out of order ${r.outOfOrder} (${fmt((100 * r.outOfOrder) / r.messages)} %)${firstInversion(order)}`,
        );
      }
    }
  } finally {
    // Cleanup after the measurement: a client that cannot disconnect (or a group already gone) changes no result.
    if (consumer) await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    if (topicCreated) {
      await admin.deleteTopics({ topics: [topic] }).then(
        () => progress(`topic ${topic} deleted`),
        (err: unknown) => progress(`could not delete topic ${topic}: ${String(err)}`),
      );
    }
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.disconnect().catch(() => {});
  }

  const per1000 = (n: number, of: number) => (n * 1000) / of;
  const rows = results.map((r) => [
    r.variant,
    r.repeat,
    r.messages,
    r.partitionsUsed,
    fmt(per1000(r.adjacentInversions, r.messages)),
    fmt(per1000(r.pairInversions, r.messages)),
    fmt((100 * r.outOfOrder) / r.messages, 2),
  ]);
  for (const variant of ['A key=roomId', 'B key=userId'] as const) {
    const rs = results.filter((r) => r.variant === variant);
    const n = rs.reduce((a, r) => a + r.messages, 0);
    rows.push([
      `**${variant} (all runs)**`,
      'all',
      n,
      Math.max(...rs.map((r) => r.partitionsUsed)),
      fmt(
        per1000(
          rs.reduce((a, r) => a + r.adjacentInversions, 0),
          n,
        ),
      ),
      fmt(
        per1000(
          rs.reduce((a, r) => a + r.pairInversions, 0),
          n,
        ),
      ),
      fmt((100 * rs.reduce((a, r) => a + r.outOfOrder, 0)) / n, 2),
    ]);
  }
  printTable(
    `partitioning: ${p.senders} concurrent senders, one room, ${p.partitions} partitions (inversion = a later-accepted message processed before an earlier one)`,
    ['variant', 'run', 'messages', 'partitions used', 'inversions per 1,000 (adjacent)', 'inverted pairs per 1,000', '% messages out of order'],
    rows,
  );
  process.stdout.write(
    'adjacent: processed[i] > processed[i+1]; inverted pairs: i < j with processed[i] > processed[j]; out of order: processed after a later-accepted message.\n',
  );
  const { brokers: _b, ...params } = p;
  appendResults(
    'partitioning',
    params,
    results.map((r) => ({
      variant: r.variant,
      repeat: r.repeat,
      messages: r.messages,
      partitionsUsed: r.partitionsUsed,
      adjacentInversions: r.adjacentInversions,
      adjacentInversionsPer1000: round(per1000(r.adjacentInversions, r.messages), 2),
      pairInversions: r.pairInversions,
      pairInversionsPer1000: round(per1000(r.pairInversions, r.messages), 2),
      outOfOrder: r.outOfOrder,
      outOfOrderPct: round((100 * r.outOfOrder) / r.messages, 3),
      produceMs: round(r.produceMs),
    })),
  );
}

interface Msg {
  key: string;
  value: string;
}

/** The gateway's way to produce (src/kafka/produce-lane.ts): one FIFO queue, one produce request in flight. */
function fifoAppender(producer: Producer, topic: string): (m: Msg) => Promise<void> {
  let queue: Array<{ m: Msg; done: () => void; fail: (e: unknown) => void }> = [];
  let inFlight = false;
  const flush = async () => {
    if (inFlight) return;
    inFlight = true;
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        await producer.send({ topic, messages: batch.map((b) => b.m) });
        for (const b of batch) b.done();
      } catch (err) {
        for (const b of batch) b.fail(err);
      }
    }
    inFlight = false;
  };
  return (m) =>
    new Promise<void>((done, fail) => {
      queue.push({ m, done, fail });
      void flush();
    });
}

function firstInversion(order: readonly number[]): string {
  const i = order.findIndex((v, k) => k > 0 && order[k - 1]! > v);
  return i < 0 ? '' : `; first: #${order[i - 1]} processed before #${order[i]} (position ${i})`;
}

/** Inversions of a processing order of accepted sequence numbers (the correct order is ascending). */
export function countInversions(order: readonly number[]): { adjacentInversions: number; pairInversions: number; outOfOrder: number } {
  let adjacent = 0;
  let outOfOrder = 0;
  let maxSoFar = -Infinity;
  for (let i = 0; i < order.length; i++) {
    if (i > 0 && order[i - 1]! > order[i]!) adjacent++;
    if (order[i]! < maxSoFar) outOfOrder++;
    maxSoFar = Math.max(maxSoFar, order[i]!);
  }
  return { adjacentInversions: adjacent, pairInversions: mergeCount([...order]), outOfOrder };
}

/** Number of pairs i < j with a[i] > a[j] (merge sort, O(n log n)); sorts `a`. */
function mergeCount(a: number[]): number {
  if (a.length < 2) return 0;
  const mid = a.length >> 1;
  const left = a.slice(0, mid);
  const right = a.slice(mid);
  let count = mergeCount(left) + mergeCount(right);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < left.length && j < right.length) {
    if (left[i]! <= right[j]!) a[k++] = left[i++]!;
    else {
      a[k++] = right[j++]!;
      count += left.length - i;
    }
  }
  while (i < left.length) a[k++] = left[i++]!;
  while (j < right.length) a[k++] = right[j++]!;
  return count;
}
