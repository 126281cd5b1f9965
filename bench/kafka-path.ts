// The Kafka path alone, in this process (no app server, no WebSocket): MessageLog.append at a fixed rate (open loop,
// 100 B records over 20 rooms) into a 6-partition topic of its own, and consumer groups that hand every record to a
// no-op handler. Prints append latency (caller -> acknowledged), handled latency (append called -> a group's handler
// has it; all groups pooled), this process' CPU per record, records per produce request and offset commits per
// second — the figures the produce lane and the offset committer change (PERF_RESULT.md, round 2). The ports are
// the same on main, so this file copied into a checkout of main measures the A side.
//
// npm run bench -- kafka-path [--rate 1000] [--duration 10] [--warmup 3] [--linger <PRODUCE_LINGER_MS: 5>] [--groups 3]
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { pino } from 'pino';
import { readSetting } from '../src/config.js';
import { KafkaConsumerGroups } from '../src/kafka/consumer-groups.js';
import { KafkaMessageLog, createKafka } from '../src/kafka/kafka-log.js';
import { createMetrics } from '../src/metrics/metrics.js';
import { TOPIC_PARTITIONS, TOPICS } from '../src/shared/defaults.js';
import { Flags, percentile, progress, sleep } from './lib.js';

export async function run(args: string[]): Promise<void> {
  const f = new Flags(args, ['rate', 'duration', 'warmup', 'linger', 'groups'], []);
  const p = {
    rate: f.int('rate', 1000),
    durationS: f.num('duration', 10, 1),
    warmupS: f.num('warmup', 3),
    lingerMs: f.num('linger', readSetting('PRODUCE_LINGER_MS')),
    groups: f.int('groups', 3),
  };
  const log = pino({ level: 'warn' });
  const name = `kafka-path-${process.pid}-${Date.now()}`;
  const topics = { messages: `${name}.messages`, readReceipts: `${name}.receipts`, deadLetter: `${name}.dlt` };
  const kafka = createKafka(readSetting('KAFKA_BROKERS'), name, log);
  let commits = 0;
  const consumer = kafka.consumer.bind(kafka);
  kafka.consumer = (config) => {
    const c = consumer(config);
    c.on(c.events.COMMIT_OFFSETS, () => commits++);
    return c;
  };
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: Object.values(topics).map((topic) => ({ topic, numPartitions: topic === topics.messages ? TOPIC_PARTITIONS[TOPICS.messages] : 1 })),
  });
  const metrics = createMetrics(name);
  const messageLog = new KafkaMessageLog({ kafka, instanceId: name, log, metrics, lingerMs: p.lingerMs, topics });
  await messageLog.connect();
  const consumers = new KafkaConsumerGroups({ kafka, log, metrics, deadLetter: messageLog, deadLetterTopic: topics.deadLetter, sessionTimeoutMs: 10_000 });
  const sentAt = new Map<string, number>();
  const handled: number[] = [];
  const groups = Array.from({ length: p.groups }, (_, g) =>
    consumers.create({
      groupId: `${name}-g${g}`,
      topic: topics.messages,
      handler: async (records) => {
        const now = performance.now();
        for (const r of records) {
          const t = sentAt.get((JSON.parse(r.value!.toString()) as { id: string }).id);
          if (t !== undefined) handled.push(now - t);
        }
      },
    }),
  );
  try {
    for (const g of groups) await g.start();
    await sleep(p.warmupS * 1000);
    const produceRequests = async () => (await metrics.produceBatchSize.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
    const [requests0, commits0] = [await produceRequests(), commits];
    const m = await measure(p, messageLog, sentAt, () => handled.length >= Math.round(p.rate * p.durationS) * p.groups);
    const result = {
      rate: p.rate,
      lingerMs: p.lingerMs,
      records: m.total,
      acknowledged: m.appended.length,
      handled: handled.length,
      appendP50Ms: q(m.appended, 50),
      appendP99Ms: q(m.appended, 99),
      handledP50Ms: q(handled, 50),
      handledP99Ms: q(handled, 99),
      cpuUsPerRecord: (m.cpuUs / m.total).toFixed(1),
      recordsPerProduceRequest: (m.total / ((await produceRequests()) - requests0)).toFixed(2),
      offsetCommitsPerS: ((commits - commits0) / m.seconds).toFixed(1),
      loadAverage: loadavg()[0]!.toFixed(2),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    for (const g of groups) await g.close();
    await consumers.close();
    await messageLog.close();
    await admin.deleteGroups(groups.map((g) => g.groupId)).catch(() => {});
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => {});
    await admin.disconnect();
  }
}

/** The `at` percentile of the list, in ms with two decimals. */
const q = (list: number[], at: number) =>
  percentile(
    [...list].sort((a, b) => a - b),
    at,
  ).toFixed(2);

/** Appends at the rate for the duration (open loop), then waits (at most 15 s) until every record is acknowledged and `handled()`. */
async function measure(p: { rate: number; durationS: number }, messageLog: KafkaMessageLog, sentAt: Map<string, number>, handled: () => boolean) {
  const total = Math.round(p.rate * p.durationS);
  const appended: number[] = [];
  const [cpu0, start] = [process.cpuUsage(), performance.now()];
  progress(`kafka-path: ${total} records at ${p.rate}/s`);
  for (let i = 0; i < total;) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * p.rate) / 1000));
    for (; i < due; i++) {
      const id = randomUUID();
      const t = performance.now();
      sentAt.set(id, t);
      const message = {
        id,
        roomId: String(i % 20),
        senderId: '1',
        type: 'TEXT' as const,
        content: 'x'.repeat(100),
        idempotencyKey: null,
        createdAt: new Date().toISOString(),
      };
      void messageLog.append(message).then(() => appended.push(performance.now() - t));
    }
    await sleep(1);
  }
  const deadline = Date.now() + 15_000;
  while ((!handled() || appended.length < total) && Date.now() < deadline) await sleep(50);
  const cpu = process.cpuUsage(cpu0);
  return { total, appended, cpuUs: cpu.user + cpu.system, seconds: (performance.now() - start) / 1000 };
}
