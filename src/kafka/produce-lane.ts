// The one lane of this process's writes to Kafka through the idempotent producer.
//
// kafkajs' idempotent producer gives a partition's records their sequence numbers when it builds a request and takes
// them back when the request fails. With two sends in flight at once, a failed first send hands its numbers to the
// second; the broker then takes the second for a retry of the first, answers with the first's offsets, and stores
// nothing new: acknowledged records that are not in the log, their seq naming someone else's message (measured on a
// 3-node cluster under a leader kill, and the cause of the producer answering OUT_OF_ORDER_SEQUENCE_NUMBER for good
// afterwards). So: one send at a time, never abandoned while kafkajs still retries it (a caller's deadline rejects
// the caller, not the send); every record of the process — appends, read receipts, dead letters — shares it; and a
// send that kafkajs gives up on (a fatal error) replaces the producer (new producer id, fresh sequence numbers)
// before anything else is sent.
import type { Producer, RecordMetadata } from './kafkajs.js';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import type { Appended } from '../shared/model.js';
import { seqFromOffset } from '../shared/model.js';
import { withTimeout } from '../shared/timeout.js';
import { LogUnavailableError } from '../log/message-log.js';

export interface LaneRecord {
  topic: string;
  partition: number;
  key: string;
  value: string | Buffer;
  headers?: Record<string, string>;
}

interface Item {
  record: LaneRecord;
  deadline: number;
  resolve(a: Appended): void;
  reject(err: unknown): void;
  /** Set once the caller was told "in doubt": the send's outcome goes here instead. */
  late?: (outcome: Appended | null | 'unknown') => void;
}

export interface LaneOptions {
  /** A new idempotent producer (not connected): at start and after a fatal send error. */
  createProducer(): Producer;
  log: Logger;
  metrics: Metrics;
  /**
   * While the lane is busy (a request in flight, or one settled less than this long ago), records wait this long
   * for company, so one request carries several (kafkajs has no linger.ms). A record that finds the lane idle goes
   * at once (with the records of the same event-loop turn). 0: never wait.
   */
  lingerMs: number;
  /** Upper bound on the records of one request. */
  maxBatch: number;
  /** A record not durable after this long rejects its caller (LogUnavailableError). */
  timeoutMs: number;
}

/** The deadline sweep's period: no timer per record (the hot path allocates none), one for the lane. */
const SWEEP_MS = 100;

export class ProduceLane {
  private producer: Producer;
  private connecting: Promise<void> | null = null;
  private queue: Item[] = [];
  private sending: Item[] | null = null;
  /** Cancels the flush that is scheduled (a timer or an immediate), if any. */
  private scheduled: (() => void) | null = null;
  /** When the last request settled (performance.now()). */
  private settledAt = -Infinity;
  private sweepTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** A flush (connect, then one send) is under way. */
  private busy = false;
  /** No connection attempt before this time (Kafka unreachable). */
  private retryAt = 0;
  private idle: (() => void) | null = null;

  constructor(private readonly opts: LaneOptions) {
    this.producer = opts.createProducer();
  }

  async connect(): Promise<void> {
    await this.ensureConnected();
  }

  /** Queues a record; resolves with its place once Kafka acknowledged it (acks=all). */
  send(record: LaneRecord): Promise<Appended> {
    if (this.closed) return Promise.reject(new LogUnavailableError('message log closed', false));
    return new Promise<Appended>((resolve, reject) => {
      this.queue.push({ record, deadline: Date.now() + this.opts.timeoutMs, resolve, reject });
      this.schedule();
      this.sweepTimer ??= setInterval(() => this.sweep(), SWEEP_MS);
    });
  }

  get depth(): number {
    return this.queue.length + (this.sending?.length ?? 0);
  }

  private schedule(): void {
    if (this.busy || this.scheduled || this.queue.length === 0) return;
    const run = () => {
      this.scheduled = null;
      void this.flush();
    };
    // Lingering when the lane is idle only adds latency; under load, lingering after each request keeps the requests
    // few: at 1,000 records/s, sending whatever is queued at once doubled the requests and cost the process 40 % more
    // CPU per record (PERF_RESULT.md, round 2), and every request also wakes each consumer's fetch: 5 ms instead of
    // 2 cut the CPU of every process per delivery by a fifth at 500-1,000 msgs/s, while below that it mostly added
    // p50 (round 4). setImmediate still gathers what the same event-loop turn queues.
    const idle = performance.now() - this.settledAt >= this.opts.lingerMs;
    const wait = Math.max(idle ? 0 : this.opts.lingerMs, this.retryAt - Date.now());
    if (wait > 0) {
      const timer = setTimeout(run, wait);
      this.scheduled = () => clearTimeout(timer);
    } else {
      const immediate = setImmediate(run);
      this.scheduled = () => clearImmediate(immediate);
    }
  }

  /** Rejects callers whose deadline passed: queued ones were never sent; sending ones learn the outcome later. */
  private sweep(): void {
    const now = Date.now();
    let expired = 0;
    while (expired < this.queue.length && this.queue[expired]!.deadline <= now) expired++;
    if (expired > 0) {
      for (const item of this.queue.splice(0, expired))
        item.reject(new LogUnavailableError('Kafka did not acknowledge the record in time; it was not sent', false));
    }
    for (const item of this.sending ?? []) {
      if (item.late || item.deadline > now) continue;
      const outcome = new Promise<Appended | null | 'unknown'>((resolve) => (item.late = resolve));
      this.opts.metrics.produceInDoubt.inc();
      item.reject(new LogUnavailableError('Kafka did not acknowledge the record in time; it may still be written', true, outcome));
    }
    if (this.queue.length === 0 && !this.sending) {
      clearInterval(this.sweepTimer!);
      this.sweepTimer = null;
    }
  }

  private async flush(): Promise<void> {
    if (this.busy || this.queue.length === 0) return;
    this.busy = true;
    try {
      if (await this.connected()) await this.sendNext();
    } finally {
      this.busy = false;
      this.sending = null;
      this.settledAt = performance.now();
      if (this.queue.length === 0) this.idle?.();
      this.schedule();
    }
  }

  private async sendNext(): Promise<void> {
    const batch = this.queue.splice(0, this.opts.maxBatch);
    this.sending = batch;
    const started = performance.now();
    let result: RecordMetadata[];
    try {
      result = await this.producer.sendBatch({ acks: -1, topicMessages: topicMessages(batch) });
    } catch (err) {
      // kafkajs retries what can be retried without end: a rejection here is fatal for this producer (its sequence
      // numbers no longer match the broker's). Whether the batch was written is unknown; the next send starts over.
      this.opts.log.error({ err, count: batch.length }, 'kafka producer failed; replacing it');
      for (const item of batch) settle(item, null, inDoubt('Kafka producer failed; the record may or may not be written', err));
      await this.replaceProducer();
      return;
    }
    let places: Appended[];
    try {
      places = placeRecords(
        batch.map((i) => i.record),
        result,
      );
    } catch (err) {
      // The broker's answer lacks a partition we wrote: the records are written but their offsets unknown.
      this.opts.log.error({ err, count: batch.length }, 'kafka produce answer without offsets');
      for (const item of batch) settle(item, null, inDoubt('Kafka answered without the offsets', err));
      return;
    }
    batch.forEach((item, i) => settle(item, places[i]!));
    this.opts.metrics.produceBatchSize.observe(batch.length);
    this.opts.metrics.produceLatency.observe((performance.now() - started) / 1000);
  }

  /**
   * true once the producer is connected. While Kafka cannot be reached nothing is sent (queued records stay queued
   * until they are sent or their deadline rejects them as never sent), and connecting is retried every second.
   */
  private async connected(): Promise<boolean> {
    try {
      await this.ensureConnected();
      return true;
    } catch (err) {
      this.opts.log.warn({ err }, 'kafka producer cannot connect; retrying');
      this.retryAt = Date.now() + 1000;
      return false;
    }
  }

  private ensureConnected(): Promise<void> {
    this.connecting ??= this.producer.connect().catch((err) => {
      this.connecting = null;
      throw err;
    });
    return this.connecting;
  }

  private async replaceProducer(): Promise<void> {
    this.opts.metrics.producerResets.inc();
    const old = this.producer;
    this.producer = this.opts.createProducer();
    this.connecting = null;
    await withTimeout(old.disconnect(), 5000).catch((err) => this.opts.log.warn({ err }, 'kafka producer disconnect failed'));
  }

  /**
   * Sends what was accepted (an acknowledged-to-be record must not be dropped), waiting at most `ms` for it; what is
   * still queued then is rejected as never sent, a send still in flight as in doubt.
   */
  async close(ms: number): Promise<void> {
    this.closed = true;
    if (this.scheduled) {
      this.scheduled();
      this.scheduled = null;
      void this.flush();
    }
    if (this.depth > 0) {
      const drained = new Promise<void>((resolve) => (this.idle = resolve));
      await withTimeout(drained, ms).catch(() => this.opts.log.warn({ pending: this.depth }, 'kafka producer did not drain before shutdown'));
    }
    for (const item of this.queue.splice(0)) item.reject(new LogUnavailableError('message log closed before the record was sent', false));
    for (const item of this.sending ?? []) settle(item, null, inDoubt('message log closed while the record was in flight'));
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await withTimeout(this.producer.disconnect(), 5000).catch(() => {});
  }
}

/** Ends an item: resolved with its place, or rejected; a caller already told "in doubt" gets the outcome instead. */
function settle(item: Item, place: Appended | null, err?: unknown): void {
  if (item.late) return item.late(place ?? 'unknown');
  if (place) item.resolve(place);
  else item.reject(err);
}

function inDoubt(message: string, cause?: unknown): LogUnavailableError {
  return new LogUnavailableError(message, true, Promise.resolve('unknown'), { cause });
}

function topicMessages(batch: readonly Item[]) {
  const byTopic = new Map<string, Array<{ key: string; value: string | Buffer; partition: number; headers?: Record<string, string> }>>();
  for (const { record: r } of batch) {
    let list = byTopic.get(r.topic);
    if (!list) byTopic.set(r.topic, (list = []));
    list.push({ key: r.key, value: r.value, partition: r.partition, headers: r.headers });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/**
 * Records of one partition keep their order within a produce request, so their offsets are base, base+1, …: maps
 * each record (by topic and partition, in request order) to its offset and seq. Throws when the answer lacks a
 * partition the request wrote to.
 */
export function placeRecords(records: ReadonlyArray<Pick<LaneRecord, 'topic' | 'partition'>>, result: readonly RecordMetadata[]): Appended[] {
  const base = new Map(result.map((r) => [`${r.topicName}/${r.partition}`, BigInt(r.baseOffset ?? '-1')]));
  const next = new Map<string, bigint>();
  return records.map(({ topic, partition }) => {
    const tp = `${topic}/${partition}`;
    const b = base.get(tp);
    if (b === undefined || b < 0n) throw new Error(`no offset for ${tp} in the produce response`);
    const offset = next.get(tp) ?? b;
    next.set(tp, offset + 1n);
    return { partition, offset: offset.toString(), seq: seqFromOffset(offset) };
  });
}
