// The message log on Apache Kafka (kafkajs): batching producer, explicit partitions, seq = offset + 1.
// Its consumer groups are in kafka-consumers.ts.
import { randomUUID } from 'node:crypto';
import { Kafka, Partitioners, logLevel as KafkaLogLevel, type Admin, type Producer } from './kafkajs.js';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import type { Appended, NewMessage } from '../shared/model.js';
import { withTimeout } from '../shared/timeout.js';
import { partitionFor, partitionOfKey } from '../log/partitioning.js';
import { ProduceLane, placeRecords } from './produce-lane.js';
import type { MessageLog } from '../log/message-log.js';
import { LogUnavailableError, TOPICS, type TopicNames } from '../log/message-log.js';

export function createKafka(brokers: string[], clientId: string, log: Logger): Kafka {
  const kafkaLog = log.child({ component: 'kafkajs' });
  return new Kafka({
    clientId,
    brokers,
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    retry: { initialRetryTime: 100, retries: 8, maxRetryTime: 5000 },
    logLevel: KafkaLogLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }) => {
        const { message, ...rest } = entry;
        if (level <= KafkaLogLevel.ERROR) kafkaLog.error(rest, message);
        else kafkaLog.warn(rest, message);
      },
  });
}

/**
 * Idempotent (no duplicate or reordered records on retry), one request in flight (ProduceLane also keeps it to one
 * send at a time). Retries are unbounded inside kafkajs (bounding them voids the idempotence guarantee); the lane's
 * deadline bounds what a caller waits. Partitions are chosen explicitly, so the partitioner is never consulted.
 */
const PRODUCER_OPTIONS = {
  idempotent: true,
  maxInFlightRequests: 1,
  allowAutoTopicCreation: false,
  createPartitioner: Partitioners.DefaultPartitioner,
  retry: { initialRetryTime: 100, retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 2000 },
};

export interface KafkaMessageLogOptions {
  kafka: Kafka;
  instanceId: string;
  log: Logger;
  metrics: Metrics;
  /** A send that finds the lane idle goes at once; while it is busy, sends gather this long and share a request (ProduceLane). */
  lingerMs: number;
  /** Upper bound on one produce request. */
  maxBatch?: number;
  /** An append Kafka has not acknowledged after this long fails (the client may retry with its idempotency key). */
  appendTimeoutMs?: number;
  /** Topic names (default TOPICS). */
  topics?: TopicNames;
}

/**
 * kafkajs has no linger.ms: batching is ours (ProduceLane). Appends and published records are queued; one produce
 * request is in flight at a time and carries everything queued meanwhile (Nagle-style), so under load batches grow
 * by themselves, and at low load a record that finds the lane idle goes at once.
 */
export class KafkaMessageLog implements MessageLog {
  private readonly lane: ProduceLane;
  private txProducer: Producer | null = null;
  private txChain: Promise<unknown> = Promise.resolve();
  readonly admin: Admin;
  /** Partition count per topic, read at connect (records are placed explicitly: room id mod partitions). */
  private readonly partitions = new Map<string, number>();
  private closed = false;
  private readonly topics: TopicNames;

  constructor(private readonly opts: KafkaMessageLogOptions) {
    this.topics = opts.topics ?? TOPICS;
    this.lane = new ProduceLane({
      createProducer: () => opts.kafka.producer(PRODUCER_OPTIONS),
      log: opts.log,
      metrics: opts.metrics,
      lingerMs: opts.lingerMs,
      maxBatch: opts.maxBatch ?? 500,
      timeoutMs: opts.appendTimeoutMs ?? 15_000,
    });
    this.admin = opts.kafka.admin();
  }

  async connect(): Promise<void> {
    await this.lane.connect();
    await this.admin.connect();
    const names = Object.values(this.topics);
    const meta = await this.admin.fetchTopicMetadata({ topics: names });
    for (const t of meta.topics) this.partitions.set(t.name, t.partitions.length);
    for (const name of names) {
      if (!this.partitions.get(name)) throw new Error(`topic ${name} has no partitions (run npm run stack:up)`);
    }
  }

  private partitionOf(topic: string, key: string): number {
    const n = this.partitions.get(topic) ?? 1;
    return partitionOfKey(key, n);
  }

  append(message: NewMessage): Promise<Appended> {
    if (this.closed) return Promise.reject(new LogUnavailableError('message log closed', false));
    const topic = this.topics.messages;
    return this.lane.send({ topic, partition: partitionFor(message.roomId, this.partitions.get(topic)!), key: message.roomId, value: JSON.stringify(message) });
  }

  appendAtomically(messages: readonly NewMessage[]): Promise<Appended[]> {
    // kafkajs allows one open transaction per producer: commits of this instance are serialised. A transaction whose
    // caller gave up before its turn came is never started (so while Kafka is away, waiting ones do not pile up).
    let started = false;
    let abandoned = false;
    const run = this.txChain.then(() => {
      if (abandoned) throw new LogUnavailableError('the transaction was abandoned before it started', false);
      started = true;
      return this.transaction(messages);
    });
    this.txChain = run.catch(() => {});
    return withTimeout(run, this.opts.appendTimeoutMs ?? 15_000).catch((err: unknown) => {
      if ((err as { code?: string }).code !== 'ETIMEDOUT') throw err;
      if (!started) {
        abandoned = true;
        throw new LogUnavailableError('the transaction did not start in time; nothing was written', false);
      }
      // Started: it may still commit (or abort); the caller learns which through the error's outcome.
      const outcome = run.then(
        (a) => a[0] ?? null,
        () => 'unknown' as const,
      );
      throw new LogUnavailableError('the transaction was not committed in time; it may still commit', true, outcome);
    });
  }

  private async transaction(messages: readonly NewMessage[]): Promise<Appended[]> {
    const producer = await this.transactional();
    const tx = await producer.transaction();
    try {
      const topic = this.topics.messages;
      const records = messages.map((m) => ({ topic, partition: partitionFor(m.roomId, this.partitions.get(topic)!), key: m.roomId, value: JSON.stringify(m) }));
      const result = await tx.send({ topic, acks: -1, messages: records });
      const appended = placeRecords(records, result);
      await tx.commit();
      return appended;
    } catch (err) {
      try {
        await tx.abort();
      } catch {
        // A transaction that can neither commit nor abort leaves the producer unusable: start a new one.
        const broken = this.txProducer;
        this.txProducer = null;
        await broken?.disconnect().catch(() => {});
      }
      throw err;
    }
  }

  private async transactional(): Promise<Producer> {
    if (this.txProducer) return this.txProducer;
    // kafkajs has no KIP-447 fencing by group metadata: the transactional id must be unique per producer.
    const producer = this.opts.kafka.producer({ ...PRODUCER_OPTIONS, transactionalId: `chat-${this.opts.instanceId}-${randomUUID()}` });
    await producer.connect();
    this.txProducer = producer;
    return producer;
  }

  async publish(topic: string, key: string, value: string | Buffer | object, headers?: Record<string, string>): Promise<void> {
    if (this.closed) throw new LogUnavailableError('message log closed', false);
    if (!this.partitions.has(topic)) {
      const meta = await this.admin.fetchTopicMetadata({ topics: [topic] });
      this.partitions.set(topic, meta.topics[0]?.partitions.length || 1);
    }
    const v = typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value);
    await this.lane.send({ topic, partition: this.partitionOf(topic, key), key, value: v, headers });
  }

  async latestSeq(roomId: string): Promise<string> {
    const topic = this.topics.messages;
    const partition = partitionFor(roomId, this.partitions.get(topic)!);
    const offsets = await this.admin.fetchTopicOffsets(topic);
    // The end offset is the next record's offset, i.e. the seq of the last record (seq = offset + 1).
    return offsets.find((o) => o.partition === partition)?.high ?? '0';
  }

  async ping(): Promise<void> {
    await this.admin.fetchTopicMetadata({ topics: [this.topics.messages] });
  }

  async close(): Promise<void> {
    this.closed = true;
    // Flush what was accepted before closing: an acknowledged-to-be send must not be dropped — within a bound.
    await this.lane.close(10_000);
    await withTimeout(this.txChain, 5000).catch(() => {});
    await Promise.allSettled([withTimeout(this.txProducer?.disconnect() ?? Promise.resolve(), 5000), withTimeout(this.admin.disconnect(), 5000)]);
  }
}
