// The message log and consumer groups on Apache Kafka (kafkajs).
import { withTimeout } from '../timeout.js';
import { randomUUID } from 'node:crypto';
import { Kafka, Partitioners, logLevel as KafkaLogLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import type { NewMessage } from '../chat/model.js';
import { seqFromOffset } from '../chat/model.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Appended, BatchHandler, ConsumedRecord, ConsumerGroup, MessageLog } from './message-log.js';
import { TOPICS } from './message-log.js';
import { isTransientError } from './transient.js';

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

/** Partition of a room: roomId mod partitions. Explicit, so a batch's offsets map back to its messages. */
export function partitionFor(roomId: string, partitions: number): number {
  return Number(BigInt(roomId) % BigInt(partitions));
}

/**
 * Idempotent (no duplicate or reordered records on retry), one request in flight. Retries are
 * unbounded inside kafkajs (bounding them voids the idempotence guarantee); our own append timeout
 * bounds what a client waits. Partitions are chosen explicitly (partitionFor), so the partitioner
 * is never consulted.
 */
const PRODUCER_OPTIONS = {
  idempotent: true,
  maxInFlightRequests: 1,
  allowAutoTopicCreation: false,
  createPartitioner: Partitioners.DefaultPartitioner,
  retry: { initialRetryTime: 100, retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 2000 },
};

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
  /** An append that Kafka has not acknowledged after this long fails (the client may retry with its idempotency key). */
  appendTimeoutMs?: number;
}

/**
 * kafkajs has no linger.ms: batching is ours. Appends are queued; one produce request is in flight
 * at a time and carries everything queued meanwhile (Nagle-style), so under load batches grow by
 * themselves and at low load the added latency is at most `lingerMs`.
 */
export class KafkaMessageLog implements MessageLog {
  private readonly producer: Producer;
  private txProducer: Producer | null = null;
  private txChain: Promise<unknown> = Promise.resolve();
  private readonly admin: Admin;
  private partitions = 0;
  private queue: Pending[] = [];
  private inFlight = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly opts: KafkaMessageLogOptions) {
    this.producer = opts.kafka.producer(PRODUCER_OPTIONS);
    this.admin = opts.kafka.admin();
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    await this.admin.connect();
    const meta = await this.admin.fetchTopicMetadata({ topics: [TOPICS.messages] });
    this.partitions = meta.topics[0]?.partitions.length ?? 0;
    if (this.partitions === 0) throw new Error(`topic ${TOPICS.messages} has no partitions (run npm run stack:up)`);
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
          topic: TOPICS.messages,
          acks: -1,
          messages: batch.map((p) => ({
            key: p.message.roomId,
            partition: p.partition,
            value: JSON.stringify(p.message),
          })),
        }),
        this.opts.appendTimeoutMs ?? 15_000,
        'kafka produce timed out',
      );
      const base = new Map(result.map((r) => [r.partition, BigInt(r.baseOffset ?? '-1')]));
      const next = new Map<number, bigint>();
      for (const p of batch) {
        const b = base.get(p.partition);
        if (b === undefined || b < 0n) {
          p.reject(new Error(`no offset for partition ${p.partition} in produce response`));
          continue;
        }
        // Records of one partition keep their order within the request: offsets are base, base+1, ...
        const offset = next.get(p.partition) ?? b;
        next.set(p.partition, offset + 1n);
        p.resolve({ partition: p.partition, offset: offset.toString(), seq: seqFromOffset(offset) });
      }
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
        const sorted = messages.map((m, i) => ({ m, i, partition: partitionFor(m.roomId, this.partitions) }));
        const result = await tx.send({
          topic: TOPICS.messages,
          acks: -1,
          messages: sorted.map(({ m, partition }) => ({ key: m.roomId, partition, value: JSON.stringify(m) })),
        });
        await tx.commit();
        const base = new Map(result.map((r) => [r.partition, BigInt(r.baseOffset ?? '-1')]));
        const next = new Map<number, bigint>();
        const out: Appended[] = new Array(messages.length);
        for (const { i, partition } of sorted) {
          const offset = next.get(partition) ?? base.get(partition)!;
          next.set(partition, offset + 1n);
          out[i] = { partition, offset: offset.toString(), seq: seqFromOffset(offset) };
        }
        return out;
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
    const producer = this.opts.kafka.producer({
      ...PRODUCER_OPTIONS,
      transactionalId: `chat-${this.opts.instanceId}-${randomUUID()}`,
    });
    await producer.connect();
    this.txProducer = producer;
    return producer;
  }

  async publish(topic: string, key: string, value: unknown, headers?: Record<string, string>): Promise<void> {
    await this.producer.send({
      topic,
      acks: -1,
      messages: [{ key, value: typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value), headers }],
    });
  }

  async latestSeq(roomId: string): Promise<string> {
    const partition = partitionFor(roomId, this.partitions);
    const offsets = await this.admin.fetchTopicOffsets(TOPICS.messages);
    // The end offset is the next record's offset, i.e. the seq of the last record (seq = offset + 1).
    return offsets.find((o) => o.partition === partition)?.high ?? '0';
  }

  async ping(): Promise<void> {
    await this.admin.fetchTopicMetadata({ topics: [TOPICS.messages] });
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


export interface KafkaConsumerGroupOptions {
  kafka: Kafka;
  groupId: string;
  topic: string;
  handler: BatchHandler;
  log: Logger;
  metrics: Metrics;
  /** Dead-letter producer; when absent, a poison record blocks its partition (retried forever). */
  deadLetter?: MessageLog;
  sessionTimeoutMs: number;
  /** Attempts for a non-transient failure before dead-lettering. */
  maxAttempts?: number;
  backoffMs?: number;
  concurrency?: number;
}

/**
 * A consumer group that commits a partition's offset only after the handler made the batch
 * durable. Transient failures (a service down) are retried without end and without committing;
 * other failures are retried `maxAttempts` times per record, then the record goes to the
 * dead-letter topic with the error, attempt count and source coordinates, and the partition goes on.
 */
export class KafkaConsumerGroup implements ConsumerGroup {
  private consumer: Consumer;
  private stopping = false;
  private crashed = false;

  constructor(private readonly opts: KafkaConsumerGroupOptions) {
    this.consumer = this.create();
  }

  /** false while the consumer is down after a crash (reported by /readyz). */
  get healthy(): boolean {
    return !this.crashed;
  }

  private create(): Consumer {
    const opts = this.opts;
    return opts.kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: opts.sessionTimeoutMs,
      heartbeatInterval: Math.max(500, Math.floor(opts.sessionTimeoutMs / 5)),
      rebalanceTimeout: 30_000,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 100,
      retry: { initialRetryTime: 200, retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 5000 },
    });
  }

  async start(): Promise<void> {
    const consumer = this.consumer;
    const { GROUP_JOIN, CRASH } = consumer.events;
    consumer.on(GROUP_JOIN, ({ payload }) => {
      this.crashed = false;
      this.opts.log.info({ groupId: payload.groupId, partitions: payload.memberAssignment, durationMs: payload.duration }, 'consumer group joined');
    });
    consumer.on(CRASH, ({ payload }) => {
      this.opts.log.error({ err: payload.error, groupId: payload.groupId, restart: payload.restart }, 'consumer crashed');
      // kafkajs restarts by itself only after retriable errors; any other crash would leave the
      // group without this member for good. Start over with a fresh consumer instead.
      if (!payload.restart && !this.stopping && consumer === this.consumer) {
        this.crashed = true;
        setTimeout(() => void this.restart(consumer), 1000);
      }
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.opts.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.concurrency ?? 3,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
        const records: ConsumedRecord[] = batch.messages.map((m) => ({
          topic: batch.topic,
          partition: batch.partition,
          offset: m.offset,
          key: m.key ? m.key.toString() : null,
          value: m.value,
          headers: Object.fromEntries(
            Object.entries(m.headers ?? {}).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString() : String(v ?? '')]),
          ),
        }));
        if (records.length === 0) return;
        // A heartbeat that reports a rebalance (or an unknown member) means this batch is no
        // longer ours: stop working on it and commit nothing; the next owner redoes it idempotently.
        let lost = false;
        const beat = async () => {
          try {
            await heartbeat();
          } catch (err) {
            if (isMembershipError(err)) lost = true;
          }
        };
        const alive = () => !lost && isRunning() && !isStale() && !this.stopping;
        const done = await this.process(records, beat, alive);
        if (!done || !alive()) return;
        const last = records[records.length - 1]!;
        resolveOffset(last.offset);
        try {
          await this.consumer.commitOffsets([
            { topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() },
          ]);
        } catch (err) {
          if (!isMembershipError(err)) throw err;
          // Evicted while working (e.g. a long retry): the work is durable and idempotent; the
          // partition's next owner starts from the last commit and skips what is already stored.
          this.opts.log.warn({ err, groupId: this.opts.groupId, partition: batch.partition }, 'offset commit lost to a rebalance');
          return;
        }
        this.opts.metrics.consumerLag.set({ group: this.opts.groupId }, Number(batch.offsetLag()));
        this.opts.metrics.consumedRecords.inc({ group: this.opts.groupId }, records.length);
      },
    });
  }

  private async restart(old: Consumer): Promise<void> {
    if (this.stopping || old !== this.consumer) return;
    await old.disconnect().catch(() => {});
    this.consumer = this.create();
    try {
      await this.start();
      this.opts.log.warn({ groupId: this.opts.groupId }, 'consumer restarted after a crash');
    } catch (err) {
      this.opts.log.error({ err, groupId: this.opts.groupId }, 'consumer restart failed; retrying');
      setTimeout(() => void this.restart(this.consumer), 2000);
    }
  }

  /**
   * Runs the handler over records in order. Transient failures are retried without end; on any
   * other failure the records are split in halves and retried (a poison record is isolated in
   * O(log n) handler calls); a single record that fails `maxAttempts` times is dead-lettered.
   * Returns false when the batch was abandoned (stopping or rebalanced).
   */
  private async process(records: ConsumedRecord[], beat: () => Promise<void>, alive: () => boolean): Promise<boolean> {
    const { handler, log, groupId } = this.opts;
    const maxAttempts = this.opts.maxAttempts ?? 3;
    const backoff = this.opts.backoffMs ?? 200;
    let lastErr: unknown;
    for (let attempt = 1; ; attempt++) {
      try {
        await handler(records);
        await beat();
        return true;
      } catch (err) {
        lastErr = err;
        if (!alive()) return false;
        if (isTransientError(err)) {
          log.warn({ err, groupId, attempt }, 'consumer batch failed on an unavailable service; retrying');
          await sleep(Math.min(5000, backoff * 2 ** Math.min(attempt, 5)));
          await beat();
          if (!alive()) return false;
          attempt = 0;
          continue;
        }
        if (records.length > 1 || attempt >= maxAttempts) break;
        await sleep(backoff * 2 ** (attempt - 1));
        await beat();
        if (!alive()) return false;
      }
    }
    if (records.length > 1) {
      const mid = Math.ceil(records.length / 2);
      return (await this.process(records.slice(0, mid), beat, alive)) && (await this.process(records.slice(mid), beat, alive));
    }
    const record = records[0]!;
    if (!this.opts.deadLetter) throw lastErr;
    log.error({ err: lastErr, groupId, partition: record.partition, offset: record.offset }, 'record dead-lettered');
    await this.opts.deadLetter.publish(TOPICS.deadLetter, record.key ?? '', record.value ?? '', {
      ...record.headers,
      'x-error': String((lastErr as Error).message ?? lastErr).slice(0, 500),
      'x-attempts': String(maxAttempts),
      'x-consumer-group': groupId,
      'x-source-topic': record.topic,
      'x-source-partition': String(record.partition),
      'x-source-offset': record.offset,
    });
    this.opts.metrics.deadLettered.inc({ group: groupId });
    await beat();
    return true;
  }

  async close(): Promise<void> {
    this.stopping = true;
    // disconnect() leaves the group at once, so the partitions move without waiting for the session timeout.
    await this.consumer.disconnect();
  }
}

/** Errors that mean this consumer no longer owns its partitions (kafkajs may wrap them). */
function isMembershipError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown; originalError?: unknown }).cause ?? (e as { originalError?: unknown }).originalError, depth++) {
    const type = (e as { type?: unknown }).type;
    if (type === 'REBALANCE_IN_PROGRESS' || type === 'UNKNOWN_MEMBER_ID' || type === 'ILLEGAL_GENERATION' || type === 'NOT_COORDINATOR') return true;
    if (/rebalanc|not aware of this member|generation/i.test(String((e as { message?: unknown }).message ?? ''))) return true;
  }
  return false;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
