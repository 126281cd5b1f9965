// src/metrics/: every series the alerts and dashboard need exists from the first scrape, the exposition passes
// `promtool check metrics`, lag and readiness are computed at scrape time and never break a scrape, and the
// Kafka lag source computes end offset - committed offset against the real broker.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import * as kafkajs from '../../src/kafka/kafkajs.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAG_COLLECT_TIMEOUT_MS, type LagEntry, type LagSource } from '../../src/metrics/consumer-lag.js';
import { CONSUMER_GROUP_TOPICS, KafkaLagSource, type LagAdmin } from '../../src/metrics/kafka-lag.js';
import { CONSUMER_GROUPS, DROPPED_DEFAULT_METRICS, createMetrics } from '../../src/metrics/metrics.js';
import { STOMP_ERROR_CODES } from '../../src/shared/errors.js';
import { promTools, read, rel, run } from './tools.js';
import { SUITE_GROUP_TOPICS } from '../../scripts/test-groups.mjs';
import { readSetting } from '../../src/config.js';

/** Parses the text exposition into samples: name, labels, value. */
function samples(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

const series = (text: string, name: string) => samples(text).filter((s) => s.name === name);

describe('createMetrics: the exposition', () => {
  it('passes promtool check metrics (no _total gauges), keeps the useful default metrics and every chat_ metric name', async () => {
    const { promtool } = promTools();
    const m = createMetrics('ops-test');
    const text = await m.registry.metrics();
    const lint = run(promtool, ['check', 'metrics'], { input: text });
    expect(lint.output).toBe('');
    expect(lint.status).toBe(0);
    const names = new Set(samples(text).map((s) => s.name));
    for (const dropped of DROPPED_DEFAULT_METRICS) expect(names).not.toContain(dropped);
    for (const kept of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
      'nodejs_active_handles',
      'nodejs_version_info',
    ]) {
      expect(names, kept).toContain(kept);
    }
    // nodejs_gc_duration_seconds appears after the first GC; its metadata is there from the start
    expect(text).toContain('# TYPE nodejs_gc_duration_seconds histogram');
    // every metric name of the previous metrics.ts (dashboards, tests and benches use them)
    for (const name of [
      'chat_sessions_active',
      'chat_frames_received_total',
      'chat_frames_sent_total',
      'chat_stomp_errors_total',
      'chat_messages_sent_total',
      'chat_messages_delivered_total',
      'chat_message_e2e_latency_seconds',
      'chat_kafka_produce_latency_seconds',
      'chat_kafka_produce_batch_size',
      'chat_kafka_consumed_records_total',
      'chat_kafka_consumer_lag',
      'chat_dead_lettered_total',
      'chat_messages_persisted_total',
      'chat_fanout_gap_repairs_total',
      'chat_slow_consumers_closed_total',
      'chat_http_requests_total',
      'chat_http_request_duration_seconds',
      'chat_consumer_group_ready',
      'chat_webhook_requests_total',
      'chat_webhook_request_duration_seconds',
      'chat_webhook_deliveries_total',
      'chat_webhook_messages_delivered_total',
    ]) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
  });

  it('starts the counters the alerts use at zero for every known label value, labelled with instance_id', async () => {
    const m = createMetrics('ops-zero');
    const text = await m.registry.metrics();
    const dead = series(text, 'chat_dead_lettered_total');
    expect(dead.map((s) => s.labels.group).sort()).toEqual([...CONSUMER_GROUPS].sort());
    expect(CONSUMER_GROUPS).toEqual(['chat-persist', 'chat-broadcast', 'chat-notify', 'chat-receipts']);
    // npm test moves exactly these groups to the topics' ends before the suite (scripts/test-groups.mjs)
    expect(SUITE_GROUP_TOPICS).toEqual(CONSUMER_GROUP_TOPICS);
    const stomp = series(text, 'chat_stomp_errors_total');
    expect(stomp.map((s) => s.labels.code).sort()).toEqual([...STOMP_ERROR_CODES].sort());
    expect(
      series(text, 'chat_messages_sent_total')
        .map((s) => s.labels.via)
        .sort(),
    ).toEqual(['rest', 'stomp']);
    expect(series(text, 'chat_kafka_consumed_records_total')).toHaveLength(4);
    // the webhook's outcomes (alerts ChatWebhookDeliveriesFailed and ChatWebhookReceiverFailing)
    expect(series(text, 'chat_webhook_deliveries_total').map((s) => [s.labels.outcome, s.value])).toEqual([
      ['delivered', 0],
      ['failed', 0],
      ['dropped', 0],
    ]);
    expect(series(text, 'chat_webhook_requests_total').map((s) => s.labels.outcome)).toEqual([
      'ok',
      'http_4xx',
      'http_5xx',
      'http_other',
      'timeout',
      'network',
    ]);
    for (const s of [...dead, ...stomp]) {
      expect(s.value).toBe(0);
      expect(s.labels.instance_id).toBe('ops-zero');
    }
    // with a group-id prefix (KAFKA_GROUP_PREFIX), the label values carry it, as the consumers' own increments do
    const prefixed = series(await createMetrics('ops-prefix', { groupPrefix: 'run7-' }).registry.metrics(), 'chat_dead_lettered_total');
    expect(prefixed.map((s) => s.labels.group).sort()).toEqual(CONSUMER_GROUPS.map((g) => `run7-${g}`).sort());
    // unlabelled counters and histograms are there at zero too
    expect(series(text, 'chat_fanout_gap_repairs_total')).toEqual([{ name: 'chat_fanout_gap_repairs_total', labels: { instance_id: 'ops-zero' }, value: 0 }]);
    expect(series(text, 'chat_message_e2e_latency_seconds_count')[0]?.value).toBe(0);
    // one increment shows as 1 on the same series (increase() over [0, 1] sees it)
    m.deadLettered.inc({ group: 'chat-notify' });
    const after = series(await m.registry.metrics(), 'chat_dead_lettered_total');
    expect(after.find((s) => s.labels.group === 'chat-notify')?.value).toBe(1);
    expect(after).toHaveLength(4);
  });

  it('the known groups and STOMP codes are those of the consumer groups and the error registry', () => {
    // Text, not import: the consumer modules pull in their dependencies; the constants are one line each.
    const groups = new Map<string, string>();
    for (const f of fs.readdirSync(rel('src/consumers')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      for (const m of read(`src/consumers/${f}`).matchAll(/export const (\w+_GROUP)\s*=\s*'([^']+)'/g)) groups.set(m[1]!, m[2]!);
    }
    expect([...groups.values()].sort()).toEqual([...CONSUMER_GROUPS].sort());
    // and each group reads the topic the lag source assumes (main.ts: addConsumer(GROUP, TOPICS.x, ...))
    const topics = Object.fromEntries([...read('src/shared/defaults.ts').matchAll(/^\s*(\w+):\s*'(chat\.[^']+)'/gm)].map((m) => [m[1]!, m[2]!]));
    const walk = (dir: string): string[] =>
      fs
        .readdirSync(rel(dir), { withFileTypes: true })
        .flatMap((e) => (e.isDirectory() ? walk(`${dir}/${e.name}`) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [`${dir}/${e.name}`] : []));
    const wiring = walk('src').map(read).join('\n');
    for (const [constName, group] of groups) {
      // addConsumer(PERSIST_GROUP, TOPICS.messages, ...) or create({ groupId: group(PERSIST_GROUP), topic: TOPICS.messages, ... })
      const use = new RegExp(`${constName}\\)?,\\s*(?:topic:\\s*)?TOPICS\\.(\\w+)`).exec(wiring);
      expect(use, `src/ subscribes ${constName} to a TOPICS entry`).not.toBeNull();
      expect(CONSUMER_GROUP_TOPICS.find((g) => g.group === group)?.topic, group).toBe(topics[use![1]!]);
    }
  });
});

describe('chat_kafka_consumer_lag and chat_consumer_group_ready at scrape time', () => {
  const entry = (partition: number, lag: number): LagEntry => ({ group: 'chat-persist', topic: 'chat.messages', partition, lag });

  it('reports the source answer per group, topic and partition, replacing the previous figures', async () => {
    const m = createMetrics('ops-lag');
    let answer: LagEntry[] = [entry(0, 5), entry(1, 0), { group: 'chat-receipts', topic: 'chat.read-receipts', partition: 2, lag: 7 }];
    m.setLagSource({ lag: async () => answer });
    let lag = series(await m.registry.metrics(), 'chat_kafka_consumer_lag');
    expect(lag.map((s) => [s.labels.group, s.labels.topic, s.labels.partition, s.value])).toEqual([
      ['chat-persist', 'chat.messages', '0', 5],
      ['chat-persist', 'chat.messages', '1', 0],
      ['chat-receipts', 'chat.read-receipts', '2', 7],
    ]);
    answer = [entry(0, 1)];
    lag = series(await m.registry.metrics(), 'chat_kafka_consumer_lag');
    expect(lag.map((s) => [s.labels.partition, s.value])).toEqual([['0', 1]]);
  });

  it('keeps the previous series and counts the error when the source fails, without failing the scrape', async () => {
    const m = createMetrics('ops-lag-err');
    let fail = false;
    m.setLagSource({
      lag: async () => {
        if (fail) throw new Error('broker down');
        return [entry(3, 42)];
      },
    });
    await m.registry.metrics();
    fail = true;
    const text = await m.registry.metrics();
    expect(series(text, 'chat_kafka_consumer_lag').map((s) => [s.labels.partition, s.value])).toEqual([['3', 42]]);
    expect(series(text, 'chat_kafka_consumer_lag_errors_total')[0]?.value).toBe(1);
  });

  it('bounds a hanging source: the scrape answers within the collect timeout', async () => {
    const m = createMetrics('ops-lag-hang');
    const hanging: LagSource = { lag: () => new Promise(() => {}) };
    m.setLagSource(hanging);
    const t0 = Date.now();
    const text = await m.registry.metrics();
    expect(Date.now() - t0).toBeLessThan(LAG_COLLECT_TIMEOUT_MS + 1000);
    expect(series(text, 'chat_kafka_consumer_lag_errors_total')[0]?.value).toBe(1);
  });

  it('reports consumer-group readiness from the callback, and nothing before one is attached', async () => {
    const m = createMetrics('ops-ready');
    expect(series(await m.registry.metrics(), 'chat_consumer_group_ready')).toEqual([]);
    let persistUp = true;
    m.setConsumerGroupReadiness(() => [
      { group: 'chat-persist', ready: persistUp },
      { group: 'chat-notify', ready: true },
    ]);
    let ready = series(await m.registry.metrics(), 'chat_consumer_group_ready');
    expect(ready.map((s) => [s.labels.group, s.value])).toEqual([
      ['chat-persist', 1],
      ['chat-notify', 1],
    ]);
    persistUp = false;
    ready = series(await m.registry.metrics(), 'chat_consumer_group_ready');
    expect(ready.map((s) => [s.labels.group, s.value])).toEqual([
      ['chat-persist', 0],
      ['chat-notify', 1],
    ]);
    m.setConsumerGroupReadiness(() => {
      throw new Error('boom');
    });
    // a throwing callback keeps the last figures and the scrape succeeds
    ready = series(await m.registry.metrics(), 'chat_consumer_group_ready');
    expect(ready).toHaveLength(2);
  });
});

describe('KafkaLagSource', () => {
  /** A fake admin: per topic the partitions' [low, high]; per group the committed offsets ('-1' = none). */
  function fakeAdmin(ends: Record<string, Array<[number, number]>>, committed: Record<string, Record<number, string>>) {
    const calls = { fetchOffsets: 0, fetchTopicOffsets: 0 };
    const admin: LagAdmin = {
      fetchTopicOffsets: (async (topic: string) => {
        calls.fetchTopicOffsets++;
        return (ends[topic] ?? []).map(([low, high], partition) => ({ partition, offset: String(high), high: String(high), low: String(low) }));
      }) as LagAdmin['fetchTopicOffsets'],
      fetchOffsets: (async ({ groupId, topics }: { groupId: string; topics?: string[] }) => {
        calls.fetchOffsets++;
        return (topics ?? []).map((topic) => ({
          topic,
          partitions: (ends[topic] ?? []).map((_, partition) => ({ partition, offset: committed[groupId]?.[partition] ?? '-1', metadata: null })),
        }));
      }) as LagAdmin['fetchOffsets'],
    };
    return { admin, calls };
  }

  it('lag = end offset - committed offset; no commit counts from the log start; never negative', async () => {
    const { admin } = fakeAdmin(
      {
        'chat.messages': [
          [0, 10],
          [5, 20],
        ],
        'chat.read-receipts': [[0, 3]],
      },
      { 'chat-persist': { 0: '10', 1: '15' }, 'chat-broadcast': { 0: '12' }, 'chat-receipts': { 0: '1' } },
    );
    const src = new KafkaLagSource({ admin });
    const lag = await src.lag();
    expect(lag).toEqual([
      { group: 'chat-persist', topic: 'chat.messages', partition: 0, lag: 0 },
      { group: 'chat-persist', topic: 'chat.messages', partition: 1, lag: 5 },
      { group: 'chat-broadcast', topic: 'chat.messages', partition: 0, lag: 0 }, // committed past the end (truncated log): 0
      { group: 'chat-broadcast', topic: 'chat.messages', partition: 1, lag: 15 }, // nothing committed: from low 5 to 20
      { group: 'chat-notify', topic: 'chat.messages', partition: 0, lag: 10 },
      { group: 'chat-notify', topic: 'chat.messages', partition: 1, lag: 15 },
      { group: 'chat-receipts', topic: 'chat.read-receipts', partition: 0, lag: 2 },
    ]);
  });

  it('queries and labels prefixed group ids when given a prefix', async () => {
    const asked: string[] = [];
    const { admin } = fakeAdmin({ 'chat.messages': [[0, 4]], 'chat.read-receipts': [[0, 2]] }, { 'run7-chat-persist': { 0: '1' } });
    const spy: LagAdmin = {
      ...admin,
      fetchOffsets: ((o: { groupId: string; topics?: string[] }) => (asked.push(o.groupId), admin.fetchOffsets(o))) as LagAdmin['fetchOffsets'],
    };
    const lag = await new KafkaLagSource({ admin: spy, groupPrefix: 'run7-' }).lag();
    expect(asked.sort()).toEqual(['run7-chat-broadcast', 'run7-chat-notify', 'run7-chat-persist', 'run7-chat-receipts']);
    expect(lag.find((e) => e.group === 'run7-chat-persist')).toEqual({ group: 'run7-chat-persist', topic: 'chat.messages', partition: 0, lag: 3 });
  });

  it('caches an answer for cacheMs and shares one request between concurrent scrapes; errors are not cached', async () => {
    const { admin, calls } = fakeAdmin({ 'chat.messages': [[0, 1]], 'chat.read-receipts': [[0, 1]] }, {});
    let now = 1000;
    const src = new KafkaLagSource({ admin, cacheMs: 1000, now: () => now });
    await Promise.all([src.lag(), src.lag(), src.lag()]);
    expect(calls.fetchTopicOffsets).toBe(2); // one per topic, once
    expect(calls.fetchOffsets).toBe(4); // one per group, once
    now += 999;
    await src.lag();
    expect(calls.fetchTopicOffsets).toBe(2);
    now += 1;
    await src.lag();
    expect(calls.fetchTopicOffsets).toBe(4);

    let fail = true;
    const flaky = new KafkaLagSource({
      admin: {
        ...admin,
        fetchTopicOffsets: (async (t: string) => (fail ? Promise.reject(new Error('down')) : admin.fetchTopicOffsets(t))) as LagAdmin['fetchTopicOffsets'],
      },
      now: () => now,
    });
    await expect(flaky.lag()).rejects.toThrow('down');
    fail = false;
    await expect(flaky.lag()).resolves.toHaveLength(4); // 3 groups on chat.messages + chat-receipts, one partition each
  });

  describe('against the real Kafka', () => {
    const brokers = readSetting('KAFKA_BROKERS');
    const kafka = new kafkajs.Kafka({ clientId: 'ops-lag-test', brokers, logLevel: kafkajs.logLevel.NOTHING });
    const admin = kafka.admin();
    const producer = kafka.producer();
    const topic = `ops.lag-${randomUUID().slice(0, 8)}`;
    const group = `ops-lag-${randomUUID().slice(0, 8)}`;

    beforeAll(async () => {
      await admin.connect();
      await producer.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }], waitForLeaders: true });
    });
    afterAll(async () => {
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await producer.disconnect();
      await admin.disconnect();
    });

    it('reads end offsets and committed offsets with the kafkajs Admin', async () => {
      await producer.send({ topic, messages: Array.from({ length: 5 }, (_, i) => ({ partition: 0, value: `a${i}` })) });
      await producer.send({ topic, messages: Array.from({ length: 3 }, (_, i) => ({ partition: 1, value: `b${i}` })) });
      const src = new KafkaLagSource({ admin, groups: [{ group, topic }], cacheMs: 0 });
      expect(await src.lag()).toEqual([
        { group, topic, partition: 0, lag: 5 },
        { group, topic, partition: 1, lag: 3 },
      ]);
      await admin.setOffsets({
        groupId: group,
        topic,
        partitions: [
          { partition: 0, offset: '2' },
          { partition: 1, offset: '3' },
        ],
      });
      expect(await src.lag()).toEqual([
        { group, topic, partition: 0, lag: 3 },
        { group, topic, partition: 1, lag: 0 },
      ]);
      // through the collector: what a scrape shows
      const m = createMetrics('ops-lag-real');
      m.setLagSource(src);
      const lag = series(await m.registry.metrics(), 'chat_kafka_consumer_lag');
      expect(lag.map((s) => [s.labels.group, s.labels.topic, s.labels.partition, s.value])).toEqual([
        [group, topic, '0', 3],
        [group, topic, '1', 0],
      ]);
    });
  });
});
