// The message log on Apache Kafka (kafkajs): batching producer, explicit partitions, seq = offset + 1.
// Its consumer groups are in kafka-consumers.ts.
import { randomUUID } from 'node:crypto';
import { Kafka, Partitioners, logLevel as KafkaLogLevel, type Admin, type Producer, type RecordMetadata } from 'kafkajs';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import type { Appended, NewMessage } from '../shared/model.js';
import { seqFromOffset } from '../shared/model.js';
import { withTimeout } from '../shared/timeout.js';
import { fixKafkajsRequestQueue } from './kafkajs-request-queue-fix.js';
import type { MessageLog } from './message-log.js';
import { TOPICS, type TopicNames } from './message-log.js';

export function createKafka(brokers: string[], clientId: string, log: Logger): Kafka {
  fixKafkajsRequestQueue();
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

/** Partition of a room: roomId mod partitions. Explicit, so a batch's offsets map back to its messages. */
export function partitionFor(roomId: string, partitions: number): number {
  return Number(BigInt(roomId) % BigInt(partitions));
}

/**
 * Idempotent (no duplicate or reordered records on retry), one request in flight. Retries are unbounded inside
 * kafkajs (bounding them voids the idempotence guarantee); our own append timeout bounds what a client waits.
 * Partitions are chosen explicitly (partitionFor), so the partitioner is never consulted.
 */
const PRODUCER_OPTIONS = {
  idempotent: true,
  maxInFlightRequests: 1,
  allowAutoTopicCreation: false,
  createPartitioner: Partitioners.DefaultPartitioner,
  retry: { initialRetryTime: 100, retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 2000 },
};

/**
 * Records of one partition keep their order within a produce request, so their offsets are base, base+1, …:
 * maps each record (by its partition, in request order) to its offset and seq. Throws when the response lacks a
 * partition the request wrote to.
 */
export function assignOffsets(partitions: readonly number[], result: readonly RecordMetadata[]): Appended[] {
  const base = new Map(result.map((r) => [r.partition, BigInt(r.baseOffset ?? '-1')]));
  const next = new Map<number, bigint>();
  return partitions.map((partition) => {
    const b = base.get(partition);
    if (b === undefined || b < 0n) throw new Error(`no offset for partition ${partition} in the produce response`);
    const offset = next.get(partition) ?? b;
    next.set(partition, offset + 1n);
    return { partition, offset: offset.toString(), seq: seqFromOffset(offset) };
  });
}

interface Pending {
  message: NewMessage;
  partition: number;
  resolve(a: Appended): void;
  reject(e: unknown): void;
}

export interface KafkaMessageLogOptions {
  kafka: Kafka;
  instanceId: string;
  log: Logger;
  metrics: Metrics;
  /** Sends arriving within this window share one produce request. */
  lingerMs: number;
  /** Upper bound on one produce request. */
  maxBatch?: number;
  /** An append Kafka has not acknowledged after this long fails (the client may retry with its idempotency key). */
  appendTimeoutMs?: number;
  /** Topic names (default TOPICS). */
  topics?: TopicNames;
}

/**
 * kafkajs has no linger.ms: batching is ours. Appends are queued; one produce request is in flight at a time and
 * carries everything queued meanwhile (Nagle-style), so under load batches grow by themselves and at low load the
 * added latency is at most `lingerMs`.
 */
export class KafkaMessageLog implements MessageLog {
  private readonly producer: Producer;
  private txProducer: Producer | null = null;
  private txChain: Promise<unknown> = Promise.resolve();
  readonly admin: Admin;
  private partitions = 0;
  private queue: Pending[] = [];
  private inFlight = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly topic: string;

  constructor(private readonly opts: KafkaMessageLogOptions) {
    this.topic = opts.topics?.messages ?? TOPICS.messages;
    this.producer = opts.kafka.producer(PRODUCER_OPTIONS);
    this.admin = opts.kafka.admin();
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    await this.admin.connect();
    const meta = await this.admin.fetchTopicMetadata({ topics: [this.topic] });
    this.partitions = meta.topics[0]?.partitions.length ?? 0;
    if (this.partitions === 0) throw new Error(`topic ${this.topic} has no partitions (run npm run stack:up)`);
  }

  append(message: NewMessage): Promise<Appended> {
    if (this.closed) return Promise.reject(new Error('message log closed'));
    return new Promise<Appended>((resolve, reject) => {
      this.queue.push({ message, partition: partitionFor(message.roomId, this.partitions), resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.inFlight || this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.opts.lingerMs);
  }

  private async flush(): Promise<void> {
    if (this.inFlight || this.queue.length === 0) return;
    this.inFlight = true;
    const batch = this.queue.splice(0, this.opts.maxBatch ?? 500);
    const started = performance.now();
    try {
      const result = await withTimeout(
        this.producer.send({
          topic: this.topic,
          acks: -1,
          messages: batch.map((p) => ({ key: p.message.roomId, partition: p.partition, value: JSON.stringify(p.message) })),
        }),
        this.opts.appendTimeoutMs ?? 15_000,
        'kafka produce timed out',
      );
      let appended: Appended[];
      try {
        appended = assignOffsets(batch.map((p) => p.partition), result);
      } catch (err) {
        for (const p of batch) p.reject(err);
        return;
      }
      batch.forEach((p, i) => p.resolve(appended[i]!));
      this.opts.metrics.produceBatchSize.observe(batch.length);
      this.opts.metrics.produceLatency.observe((performance.now() - started) / 1000);
    } catch (err) {
      this.opts.log.warn({ err, count: batch.length }, 'kafka produce failed');
      for (const p of batch) p.reject(err);
    } finally {
      this.inFlight = false;
      this.schedule();
    }
  }

  appendAtomically(messages: readonly NewMessage[]): Promise<Appended[]> {
    // kafkajs allows one open transaction per producer: commits of this instance are serialised.
    const run = this.txChain.then(async () => {
      const producer = await this.transactional();
      const tx = await producer.transaction();
      try {
        const partitions = messages.map((m) => partitionFor(m.roomId, this.partitions));
        const result = await tx.send({
          topic: this.topic,
          acks: -1,
          messages: messages.map((m, i) => ({ key: m.roomId, partition: partitions[i], value: JSON.stringify(m) })),
        });
        const appended = assignOffsets(partitions, result);
        await tx.commit();
        return appended;
      } catch (err) {
        await tx.abort().catch(() => {});
        throw err;
      }
    });
    this.txChain = run.catch(() => {});
    return run;
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
    await this.producer.send({
      topic,
      acks: -1,
      messages: [{ key, value: typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value), headers }],
    });
  }

  async latestSeq(roomId: string): Promise<string> {
    const partition = partitionFor(roomId, this.partitions);
    const offsets = await this.admin.fetchTopicOffsets(this.topic);
    // The end offset is the next record's offset, i.e. the seq of the last record (seq = offset + 1).
    return offsets.find((o) => o.partition === partition)?.high ?? '0';
  }

  async ping(): Promise<void> {
    await this.admin.fetchTopicMetadata({ topics: [this.topic] });
  }

  async close(): Promise<void> {
    this.closed = true;
    // Flush what was accepted before closing: an acknowledged-to-be send must not be dropped.
    const deadline = Date.now() + 10_000;
    while ((this.queue.length > 0 || this.inFlight) && Date.now() < deadline) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
        void this.flush();
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await this.txChain;
    await Promise.allSettled([this.producer.disconnect(), this.txProducer?.disconnect(), this.admin.disconnect()]);
  }
}
