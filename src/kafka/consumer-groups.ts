// Consumer groups on Apache Kafka (kafkajs): commit after the work is durable (periodically, off the fetch loop:
// offset-committer.ts), retries and dead letters through runBatch, a batch lost to a rebalance abandoned, a consumer
// that crashed, lost its coordinator or stopped moving replaced (consumer-watchdog.ts), shutdown bounded.
import type { Admin, Consumer, EachBatchPayload, Kafka } from './kafkajs.js';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import { causes } from '../shared/failures.js';
import { withTimeout } from '../shared/timeout.js';
import { runBatch } from '../log/consumer-runner.js';
import { ConsumerWatchdog, isCoordinatorError, type PartitionProgress } from './consumer-watchdog.js';
import { OffsetCommitter, type CommitOffset } from './offset-committer.js';
import type { ConsumedRecord, ConsumerGroup, ConsumerGroupOptions, ConsumerGroups, MessageLog } from '../log/message-log.js';
import { TOPICS } from '../log/message-log.js';

/**
 * A latency group (broadcast) hands every partition of a fetch over at once, up to this many, instead of `concurrency`
 * at a time: the later partitions do not wait for the earlier ones, and the batches of one fetch share one publish.
 */
const LATENCY_CONCURRENCY = 16;

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
  /** Partitions a throughput group handles at once (default 3; a latency group: LATENCY_CONCURRENCY). */
  concurrency?: number;
  /** A partition of ours with records waiting, no batch at work and no commit for this long gets a fresh consumer (default 2 × session timeout, at least 10 s). */
  stallMs?: number;
}

export class KafkaConsumerGroups implements ConsumerGroups {
  /** One admin for every group's watchdog (committed offsets and partition ends). */
  private admin: Admin | null = null;

  constructor(private readonly opts: KafkaConsumerGroupsOptions) {}

  create(options: ConsumerGroupOptions): ConsumerGroup {
    return new KafkaConsumerGroup({ ...this.opts, ...options, log: this.opts.log.child({ group: options.groupId }) }, () => this.sharedAdmin());
  }

  private async sharedAdmin(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.opts.kafka.admin();
      this.admin = admin;
      await admin.connect().catch((err: unknown) => {
        this.admin = null;
        throw err;
      });
    }
    return this.admin;
  }

  async close(): Promise<void> {
    await withTimeout(this.admin?.disconnect() ?? Promise.resolve(), 5000).catch(() => {});
  }
}

type KafkaConsumerGroupOptions = KafkaConsumerGroupsOptions & ConsumerGroupOptions;

const WATCH_EVERY_MS = 1000;
const PROGRESS_EVERY_MS = 4000;
const CLOSE_MS = 10_000;
const METADATA_MAX_AGE_MS = 5000;
/** Offsets of durable batches wait at most this long for their commit (one request for every partition). */
const COMMIT_EVERY_MS = 200;
/** The last commit before a consumer leaves waits at most this long. */
const FINAL_COMMIT_MS = 3000;

/**
 * A consumer group that commits a partition's offset only after the handler made the batch durable (see
 * runBatch for retries, poison isolation and dead letters). A consumer that crashed, lost its coordinator or stopped
 * moving while records wait (ConsumerWatchdog) is replaced by a fresh one.
 */
class KafkaConsumerGroup implements ConsumerGroup {
  private consumer: Consumer;
  /** The current consumer's offsets waiting for their commit. */
  private committer: OffsetCommitter | null = null;
  private stopping = false;
  private down = false;
  private replacing: Promise<void> | null = null;
  private assigned: number[] = [];
  /** Batches in the handler right now (the watchdog does not count a partition at work as stalled). */
  private working = 0;
  private timer: NodeJS.Timeout | null = null;
  private lastProgressCheck = 0;
  private readonly watchdog: ConsumerWatchdog;

  constructor(
    private readonly opts: KafkaConsumerGroupOptions,
    private readonly admin: () => Promise<Admin>,
  ) {
    this.consumer = this.create();
    this.watchdog = new ConsumerWatchdog({
      coordinatorGraceMs: Math.max(5000, opts.sessionTimeoutMs / 2),
      stallMs: opts.stallMs ?? Math.max(10_000, 2 * opts.sessionTimeoutMs),
    });
  }

  get groupId(): string {
    return this.opts.groupId;
  }

  get healthy(): boolean {
    return !this.down;
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
      // store queries per record). A throughput group's fetch after an empty one waits for one record instead
      // (kafkajs-idle-fetch.ts), so a quiet topic costs two fetches a second, not ten.
      ...(opts.batching === 'throughput' ? { minBytes: 64 * 1024, maxWaitTimeInMs: 100 } : { minBytes: 1, maxWaitTimeInMs: 500 }),
      // kafkajs fetches by the leaders in its metadata and refreshes it only when it is older than this: after a
      // leader moved (a node killed), the partition waits that long for the new leader (5 min by default).
      metadataMaxAge: METADATA_MAX_AGE_MS,
      // Bounded, so a node that stays down ends the attempt (kafkajs then restarts the consumer itself, with fresh
      // metadata) instead of a fetcher retrying its dead leader without end while the partition moved elsewhere.
      retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 3000 },
    });
  }

  async start(): Promise<void> {
    await this.run(this.consumer);
    this.timer ??= setInterval(() => void this.watch(), WATCH_EVERY_MS);
  }

  private async run(consumer: Consumer): Promise<void> {
    const { log } = this.opts;
    const { GROUP_JOIN, CRASH, REBALANCING } = consumer.events;
    const committer = this.createCommitter(consumer);
    if (consumer === this.consumer) this.committer = committer;
    // Before kafkajs rejoins: commit what is done while this generation may still commit (the coordinator takes
    // commits of the current generation until the rebalance completes); whatever misses it is redone idempotently.
    consumer.on(REBALANCING, () => void committer.flush());
    consumer.on(GROUP_JOIN, ({ payload }) => {
      if (consumer !== this.consumer) return;
      this.down = false;
      this.assigned = payload.memberAssignment[this.opts.topic] ?? [];
      // A partition that moved to another member is its now: an offset of ours committed later could move it back.
      const owned = new Set(this.assigned);
      committer.keepOnly((topic, partition) => topic === this.opts.topic && owned.has(partition));
      log.info({ groupId: payload.groupId, partitions: payload.memberAssignment, durationMs: payload.duration }, 'consumer group joined');
    });
    consumer.on(CRASH, ({ payload }) => {
      log.error({ err: payload.error, groupId: payload.groupId, restart: payload.restart }, 'consumer crashed');
      // kafkajs restarts by itself only after retriable errors; any other crash would leave the group without
      // this member for good. Start over with a fresh consumer instead.
      if (!payload.restart && consumer === this.consumer) {
        this.down = true;
        setTimeout(() => void this.replace('crashed'), 1000);
      }
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.opts.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.batching === 'latency' ? LATENCY_CONCURRENCY : (this.opts.concurrency ?? 3),
      eachBatch: (payload) => this.handleBatch(consumer, committer, payload),
    });
  }

  private createCommitter(consumer: Consumer): OffsetCommitter {
    const { log, groupId } = this.opts;
    return new OffsetCommitter({
      everyMs: COMMIT_EVERY_MS,
      commit: (offsets) => consumer.commitOffsets(offsets),
      onCommitted: () => this.watchdog.commitSucceeded(),
      onFailed: (err: unknown, offsets: readonly CommitOffset[]) => {
        const partitions = offsets.map((o) => o.partition);
        // The work is durable and idempotent either way: a partition's next owner (or this member's next commit)
        // starts from the last commit and skips what is already stored.
        if (isCoordinatorError(err)) {
          this.watchdog.coordinatorFailed(Date.now());
          log.warn({ err, groupId, partitions }, 'offset commit refused by the group coordinator');
          return 'retry';
        }
        if (isMembershipError(err)) {
          log.warn({ err, groupId, partitions }, 'offset commit lost to a rebalance');
          return 'drop';
        }
        // A broken connection and the like: the next request carries these offsets again (or newer ones); a
        // partition that stops moving for good is the watchdog's to notice.
        log.warn({ err, groupId, partitions }, 'offset commit failed; retrying');
        return 'retry';
      },
    });
  }

  private async handleBatch(
    consumer: Consumer,
    committer: OffsetCommitter,
    { batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload,
  ): Promise<void> {
    const { groupId, metrics } = this.opts;
    const records: ConsumedRecord[] = batch.messages.map((m) => ({
      topic: batch.topic,
      partition: batch.partition,
      offset: m.offset,
      key: m.key ? m.key.toString() : null,
      value: m.value,
      headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString() : String(v ?? '')])),
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
    const alive = () => !lost && isRunning() && !isStale() && !this.stopping && consumer === this.consumer;
    this.working++;
    let done: boolean;
    try {
      done = await runBatch(records, this.runner(), { beat, alive });
    } finally {
      this.working--;
    }
    if (!done || !alive()) return;
    const last = records[records.length - 1]!;
    resolveOffset(last.offset);
    // Durable: the offset after it may be committed (not awaited: the next fetch does not wait for the broker).
    committer.done(batch.topic, batch.partition, (BigInt(last.offset) + 1n).toString());
    metrics.consumedRecords.inc({ group: groupId }, records.length);
    metrics.consumerBatchSize.observe({ group: groupId }, records.length);
  }

  private runner() {
    const { log, groupId, metrics } = this.opts;
    return {
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
      onTransientFailure: (err: unknown, attempt: number) => log.warn({ err, groupId, attempt }, 'consumer batch failed on an unavailable service; retrying'),
    };
  }

  /** Every WATCH_EVERY_MS: the watchdog's verdict; every PROGRESS_EVERY_MS, what the log says about our partitions. */
  private async watch(): Promise<void> {
    if (this.stopping || this.replacing || this.down) return;
    const now = Date.now();
    if (now - this.lastProgressCheck >= PROGRESS_EVERY_MS) {
      this.lastProgressCheck = now;
      try {
        this.watchdog.observe(await this.progress(), Date.now(), this.working > 0);
      } catch {
        // Kafka does not answer: nothing to conclude (the consumer's own retries are at work).
      }
    }
    const why = this.watchdog.verdict(Date.now());
    if (why) await this.replace(why);
  }

  private async progress(): Promise<PartitionProgress[]> {
    if (this.assigned.length === 0) return [];
    const admin = await this.admin();
    const { topic, groupId } = this.opts;
    const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
    const offsets = new Map((committed.find((t) => t.topic === topic)?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    const mine = new Set(this.assigned);
    return ends
      .filter((e) => mine.has(e.partition))
      .map((e) => ({
        partition: e.partition,
        end: BigInt(e.high),
        committed: (offsets.get(e.partition) ?? -1n) < 0n ? BigInt(e.low) : offsets.get(e.partition)!,
      }));
  }

  /** A fresh consumer in place of the current one (which leaves the group, within a bound). */
  private replace(why: string): Promise<void> {
    if (this.stopping) return Promise.resolve();
    this.replacing ??= (async () => {
      const { log, groupId, metrics } = this.opts;
      log.warn({ groupId, why }, 'replacing the consumer');
      metrics.consumerRestarts.inc({ group: groupId });
      this.down = true;
      const old = this.consumer;
      const oldCommitter = this.committer;
      this.consumer = this.create();
      this.committer = null;
      this.assigned = [];
      this.watchdog.reset();
      // What the old consumer finished is durable: commit it while it is still a member (if its coordinator answers).
      await oldCommitter?.close(FINAL_COMMIT_MS);
      await withTimeout(old.disconnect(), CLOSE_MS).catch((err: unknown) => log.warn({ err, groupId }, 'old consumer did not leave cleanly'));
      for (let attempt = 1; !this.stopping; attempt++) {
        try {
          await this.run(this.consumer);
          log.warn({ groupId }, 'consumer replaced');
          return;
        } catch (err) {
          log.error({ err, groupId, attempt }, 'consumer start failed; retrying');
          await withTimeout(this.consumer.disconnect(), CLOSE_MS).catch(() => {});
          this.consumer = this.create();
          await new Promise((r) => setTimeout(r, Math.min(10_000, 1000 * attempt)));
        }
      }
    })().finally(() => (this.replacing = null));
    return this.replacing;
  }

  async close(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    // Batches still at work commit nothing now (stopping); what is done is committed before the group is left.
    await this.committer?.close(FINAL_COMMIT_MS);
    // disconnect() leaves the group at once, so the partitions move without waiting for the session timeout — unless
    // the coordinator cannot be reached: then the bound keeps shutdown going (the session timeout frees them).
    await withTimeout(this.consumer.disconnect(), CLOSE_MS).catch((err: unknown) =>
      this.opts.log.warn({ err, groupId: this.opts.groupId }, 'consumer did not leave the group in time'),
    );
  }
}

const MEMBERSHIP_TYPES = new Set(['REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION']);

/** Errors that mean this consumer no longer owns its partitions (kafkajs may wrap them). */
function isMembershipError(err: unknown): boolean {
  for (const e of causes(err, 5)) {
    if (MEMBERSHIP_TYPES.has(String(e.type))) return true;
    if (/rebalanc|not aware of this member|generation/i.test(String(e.message ?? ''))) return true;
  }
  return false;
}
