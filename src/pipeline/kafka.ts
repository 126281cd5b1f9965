// The message log and consumer groups on Apache Kafka (kafkajs).
import { randomUUID } from 'node:crypto';
import { Kafka, Partitioners, logLevel as KafkaLogLevel, type Admin, type Consumer, type Producer, type RecordMetadata } from 'kafkajs';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import { causes } from '../shared/failures.js';
import type { Appended, NewMessage } from '../shared/model.js';
import { seqFromOffset } from '../shared/model.js';
import { withTimeout } from '../shared/timeout.js';
import { runBatch } from './consumer-runner.js';
import type { ConsumedRecord, ConsumerGroup, ConsumerGroupOptions, ConsumerGroups, MessageLog } from './message-log.js';
import { TOPICS } from './message-log.js';

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
          topic: TOPICS.messages,
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

export interface KafkaConsumerGroupsOptions {
  kafka: Kafka;
  log: Logger;
  metrics: Metrics;
  /** Where poison records go (chat.messages.dlt). */
  deadLetter: Pick<MessageLog, 'publish'>;
  sessionTimeoutMs: number;
  maxAttempts?: number;
  backoffMs?: number;
  concurrency?: number;
}

export class KafkaConsumerGroups implements ConsumerGroups {
  constructor(private readonly opts: KafkaConsumerGroupsOptions) {}

  create(options: ConsumerGroupOptions): ConsumerGroup {
    return new KafkaConsumerGroup({ ...this.opts, ...options, log: this.opts.log.child({ group: options.groupId }) });
  }
}

type KafkaConsumerGroupOptions = KafkaConsumerGroupsOptions & ConsumerGroupOptions;

/**
 * A consumer group that commits a partition's offset only after the handler made the batch durable (see
 * runBatch for retries, poison isolation and dead letters). A crashed kafkajs consumer is replaced.
 */
class KafkaConsumerGroup implements ConsumerGroup {
  private consumer: Consumer;
  private stopping = false;
  private crashed = false;

  constructor(private readonly opts: KafkaConsumerGroupOptions) {
    this.consumer = this.create();
  }

  get groupId(): string {
    return this.opts.groupId;
  }

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
    const { log, groupId, metrics } = this.opts;
    const { GROUP_JOIN, CRASH } = consumer.events;
    consumer.on(GROUP_JOIN, ({ payload }) => {
      this.crashed = false;
      log.info({ groupId: payload.groupId, partitions: payload.memberAssignment, durationMs: payload.duration }, 'consumer group joined');
    });
    consumer.on(CRASH, ({ payload }) => {
      log.error({ err: payload.error, groupId: payload.groupId, restart: payload.restart }, 'consumer crashed');
      // kafkajs restarts by itself only after retriable errors; any other crash would leave the group without
      // this member for good. Start over with a fresh consumer instead.
      if (!payload.restart && !this.stopping && consumer === this.consumer) {
        this.crashed = true;
        setTimeout(() => void this.restart(consumer), 1000);
      }
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.opts.topic, fromBeginning: true });
    const runner = {
      groupId,
      handler: this.opts.handler,
      maxAttempts: this.opts.maxAttempts,
      backoffMs: this.opts.backoffMs,
      deadLetter: (record: ConsumedRecord, headers: Record<string, string>) =>
        this.opts.deadLetter.publish(TOPICS.deadLetter, record.key ?? '', record.value ?? '', headers),
      onDeadLettered: (record: ConsumedRecord, err: unknown) => {
        log.error({ err, groupId, partition: record.partition, offset: record.offset }, 'record dead-lettered');
        metrics.deadLettered.inc({ group: groupId });
      },
      onTransientFailure: (err: unknown, attempt: number) =>
        log.warn({ err, groupId, attempt }, 'consumer batch failed on an unavailable service; retrying'),
    };
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
        // A heartbeat that reports a rebalance (or an unknown member) means this batch is no longer ours: stop
        // working on it and commit nothing; the next owner redoes it idempotently.
        let lost = false;
        const beat = async () => {
          try {
            await heartbeat();
          } catch (err) {
            if (isMembershipError(err)) lost = true;
          }
        };
        const alive = () => !lost && isRunning() && !isStale() && !this.stopping;
        const done = await runBatch(records, runner, { beat, alive });
        if (!done || !alive()) return;
        const last = records[records.length - 1]!;
        resolveOffset(last.offset);
        try {
          await this.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }]);
        } catch (err) {
          if (!isMembershipError(err)) throw err;
          // Evicted while working (e.g. a long retry): the work is durable and idempotent; the partition's next
          // owner starts from the last commit and skips what is already stored.
          log.warn({ err, groupId, partition: batch.partition }, 'offset commit lost to a rebalance');
          return;
        }
        metrics.consumedRecords.inc({ group: groupId }, records.length);
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

  async close(): Promise<void> {
    this.stopping = true;
    // disconnect() leaves the group at once, so the partitions move without waiting for the session timeout.
    await this.consumer.disconnect();
  }
}

const MEMBERSHIP_TYPES = new Set(['REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'NOT_COORDINATOR']);

/** Errors that mean this consumer no longer owns its partitions (kafkajs may wrap them). */
function isMembershipError(err: unknown): boolean {
  for (const e of causes(err, 5)) {
    if (MEMBERSHIP_TYPES.has(String(e.type))) return true;
    if (/rebalanc|not aware of this member|generation/i.test(String(e.message ?? ''))) return true;
  }
  return false;
}
