// Talking to a Kafka cluster from the stack scripts (kafkajs admin): is it up, how many brokers, the application's
// topics (created with the cluster's replication), and the leader/replica picture the fault tests act on.
import net from 'node:net';

import kafkajs from 'kafkajs';

// Node 24 loads the .ts directly (type stripping): the same fix the app installs, so no 1 ms timer loop and no
// TimeoutNegativeWarning from an admin client here either.
import { fixKafkajsRequestQueue } from '../../src/kafka/kafkajs-request-queue-fix.ts';
import { TOPIC_PARTITIONS } from '../../src/shared/defaults.ts';
import { StackError, defaultLog, pollUntil } from './proc.mjs';

const { Kafka, logLevel: KafkaLogLevel } = kafkajs;
fixKafkajsRequestQueue();

/** Topics the application needs (src/shared/defaults.ts); created idempotently by `up`. */
export const TOPICS = Object.freeze(Object.entries(TOPIC_PARTITIONS).map(([topic, numPartitions]) => ({ topic, numPartitions })));

export function kafkaClient(brokers, { connectionTimeout = 3000, requestTimeout = 10_000, retries = 0 } = {}) {
  return new Kafka({
    clientId: 'stack',
    brokers,
    logLevel: KafkaLogLevel.NOTHING,
    connectionTimeout,
    requestTimeout,
    retry: { retries, initialRetryTime: 200, maxRetryTime: 2000 },
  });
}

/** Runs fn(admin) with a connected kafkajs admin, always disconnecting it. */
export async function withAdmin(brokers, fn, opts) {
  const admin = kafkaClient(brokers, opts).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** One attempt: resolves the cluster description when an admin can connect and sees a broker, else null. */
export async function kafkaProbe(brokers) {
  try {
    const c = await withAdmin(brokers, (admin) => admin.describeCluster(), { connectionTimeout: 1500, requestTimeout: 5000 });
    return c.brokers.length > 0 ? c : null;
  } catch {
    return null;
  }
}

/**
 * Waits until an admin can connect to `brokers` and the cluster has `expectBrokers` brokers registered.
 * `isAlive` (optional) fails fast when a node process died; `logTail` adds the broker log to the error.
 * Resolves the elapsed milliseconds; throws StackError on timeout.
 */
export async function waitForKafka({ brokers, expectBrokers = 1, log = defaultLog, timeoutMs = 90_000, isAlive, logTail }) {
  const start = Date.now();
  let died = false;
  let seen = 0;
  const ok = await pollUntil(
    async () => {
      if (isAlive && !isAlive()) return (died = true);
      const c = await kafkaProbe(brokers);
      seen = c?.brokers.length ?? 0;
      return seen >= expectBrokers;
    },
    {
      timeoutMs,
      intervalMs: 500,
      tickEveryMs: 3000,
      onTick: (ms) => log(`kafka: waiting for ${brokers.join(',')} (${seen}/${expectBrokers} brokers) ... ${Math.round(ms / 1000)} s`),
    },
  );
  if (ok && !died) return Date.now() - start;
  const what = died
    ? 'a Kafka node process exited during start-up'
    : `Kafka did not become ready within ${Math.round(timeoutMs / 1000)} s (${seen}/${expectBrokers} brokers)`;
  throw new StackError(logTail ? `${what}\n${logTail()}` : `${what} (KAFKA_BROKERS=${brokers.join(',')})`);
}

/**
 * Creates the application topics (idempotent; adds partitions when an existing topic has fewer) with the
 * cluster's replication — 3 and min.insync.replicas=2 on three or more brokers, else 1 — and waits until every
 * partition has a leader.
 */
export async function ensureTopics({ brokers, log = defaultLog, topics = TOPICS, timeoutMs = 30_000 }) {
  await withAdmin(
    brokers,
    async (admin) => {
      const { brokers: nodes } = await admin.describeCluster();
      const replicationFactor = nodes.length >= 3 ? 3 : 1;
      const configEntries = replicationFactor === 3 ? [{ name: 'min.insync.replicas', value: '2' }] : [];
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t.topic));
      if (missing.length) {
        // Leaders are waited for below: on a fresh cluster a broker may not know a new topic for a moment
        // (UNKNOWN_TOPIC_OR_PARTITION from kafkajs' own wait), which is not a failure.
        await admin
          .createTopics({
            topics: missing.map((t) => ({ topic: t.topic, numPartitions: t.numPartitions, replicationFactor, configEntries })),
            timeout: timeoutMs,
          })
          .catch((e) => {
            if (!['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'TOPIC_ALREADY_EXISTS'].includes(e.type)) throw e;
          });
        log(`kafka: created topics ${missing.map((t) => `${t.topic}(${t.numPartitions})`).join(', ')} with replication factor ${replicationFactor}`);
      }
      await growPartitions(
        admin,
        topics.filter((t) => existing.has(t.topic)),
        log,
      );
      await waitForLeaders(admin, topics, { timeoutMs, log });
      log(`kafka: topics ready: ${topics.map((t) => `${t.topic}(${t.numPartitions})`).join(', ')}`);
    },
    { retries: 5 },
  );
}

async function growPartitions(admin, present, log) {
  if (present.length === 0) return;
  const md = await admin.fetchTopicMetadata({ topics: present.map((t) => t.topic) });
  for (const t of present) {
    const have = md.topics.find((x) => x.name === t.topic)?.partitions.length ?? 0;
    if (have < t.numPartitions) {
      await admin.createPartitions({ topicPartitions: [{ topic: t.topic, count: t.numPartitions }] });
      log(`kafka: ${t.topic}: partitions ${have} → ${t.numPartitions}`);
    } else if (have > t.numPartitions) {
      log(`kafka: WARNING ${t.topic} has ${have} partitions (expected ${t.numPartitions}); leaving it`);
    }
  }
}

async function waitForLeaders(admin, topics, { timeoutMs, log }) {
  let last = '';
  const ok = await pollUntil(
    async () => {
      try {
        const md = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
        return topics.every((t) => {
          const parts = md.topics.find((x) => x.name === t.topic)?.partitions ?? [];
          return parts.length >= t.numPartitions && parts.every((p) => p.leader >= 0 && p.partitionErrorCode === 0);
        });
      } catch (e) {
        last = e.message;
        return false;
      }
    },
    { timeoutMs, intervalMs: 200, onTick: (ms) => log(`kafka: waiting for topic metadata (${Math.round(ms / 1000)} s)`) },
  );
  if (!ok) throw new StackError(`Kafka topic metadata not available within ${timeoutMs / 1000} s${last ? `: ${last}` : ''}`);
}

/** Per partition of `topics`: leader node id, replicas and in-sync replicas (for faults and their recovery). */
export async function partitionStates(brokers, topics) {
  return withAdmin(
    brokers,
    async (admin) => {
      const md = await admin.fetchTopicMetadata({ topics });
      return md.topics.flatMap((t) =>
        t.partitions.map((p) => ({ topic: t.name, partition: p.partitionId, leader: p.leader, replicas: p.replicas, isr: p.isr })),
      );
    },
    { connectionTimeout: 1500, requestTimeout: 5000 },
  );
}

/**
 * The Kafka line (3 or 4) of the broker at host:port, from its ApiVersions answer: Kafka 4.0 removed Fetch
 * versions 0–3 (KIP-896), so a broker whose oldest Fetch version is 4 or more is a 4.x broker.
 */
export function brokerLine(host, port, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const clientId = Buffer.from('stack');
    const req = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length);
    req.writeInt32BE(req.length - 4, 0);
    req.writeInt16BE(18, 4); // ApiVersions
    req.writeInt16BE(0, 6); // v0
    req.writeInt32BE(1, 8); // correlation id
    req.writeInt16BE(clientId.length, 12);
    clientId.copy(req, 14);
    const sock = net.connect({ host, port });
    let buf = Buffer.alloc(0);
    const done = (err, v) => {
      sock.destroy();
      if (err) reject(err);
      else resolve(v);
    };
    sock.setTimeout(timeoutMs, () => done(new Error('ApiVersions timed out')));
    sock.once('error', (e) => done(e));
    sock.once('connect', () => sock.write(req));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 4 || buf.length < 4 + buf.readInt32BE(0)) return;
      if (buf.readInt16BE(8) !== 0) return done(new Error(`ApiVersions error ${buf.readInt16BE(8)}`));
      const n = buf.readInt32BE(10);
      for (let i = 0, o = 14; i < n; i++, o += 6) {
        if (buf.readInt16BE(o) === 1) return done(null, buf.readInt16BE(o + 2) >= 4 ? 4 : 3);
      }
      done(new Error('no Fetch API in the ApiVersions answer'));
    });
  });
}
