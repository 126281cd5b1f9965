// Consumer groups on Apache Kafka (kafkajs): commit after the work is durable, retries and dead letters through
// runBatch, a crashed consumer replaced, a batch lost to a rebalance abandoned.
import type { Consumer, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import { causes } from '../shared/failures.js';
import { runBatch } from './consumer-runner.js';
import type { ConsumedRecord, ConsumerGroup, ConsumerGroupOptions, ConsumerGroups, MessageLog } from './message-log.js';
import { TOPICS } from './message-log.js';

export interface KafkaConsumerGroupsOptions {
  kafka: Kafka;
  log: Logger;
  metrics: Metrics;
  /** Where poison records go (chat.messages.dlt, or `deadLetterTopic`). */
  deadLetter: Pick<MessageLog, 'publish'>;
  deadLetterTopic?: string;
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
      // Latency: the broker answers a fetch as soon as one record exists (the wait only bounds empty polls).
      // Throughput: it waits until 64 KiB are there or 100 ms passed. Every fetch costs the same fixed client CPU
      // (kafkajs' request queue and timers), so the waits set the idle cost (at 20 ms, 3 groups x 50 empty
      // fetches/s kept an idle instance at 8.5 % of a core) and the batch size under load (fewer commits and
      // store queries per record).
      ...(opts.batching === 'throughput' ? { minBytes: 64 * 1024, maxWaitTimeInMs: 100 } : { minBytes: 1, maxWaitTimeInMs: 500 }),
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
        this.opts.deadLetter.publish(this.opts.deadLetterTopic ?? TOPICS.deadLetter, record.key ?? '', record.value ?? '', headers),
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
        metrics.consumerBatchSize.observe({ group: groupId }, records.length);
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
