// The message log port: the durable, per-room ordered log every message passes through, and its consumer groups.
import type { Appended, NewMessage } from '../shared/model.js';

export type { Appended } from '../shared/model.js';

export { TOPICS } from '../shared/defaults.js';

/** The topic names an adapter uses (TOPICS by default; tests give their own so they never share the app's). */
export interface TopicNames {
  messages: string;
  readReceipts: string;
  deadLetter: string;
}

/**
 * How an append (or publish) that did not become durable in time ends. `inDoubt` false: the record was never
 * handed to the log — it will not appear. `inDoubt` true: it was sent and may still become durable; `outcome`
 * settles once that is known (the record's place when it was written, null when it definitely was not,
 * 'unknown' when the log cannot tell — the producer failed fatally mid-request). Transient (`retriable`).
 */
export class LogUnavailableError extends Error {
  override readonly name = 'LogUnavailableError';
  readonly retriable = true;
  constructor(
    message: string,
    readonly inDoubt: boolean,
    readonly outcome: Promise<Appended | null | 'unknown'> = Promise.resolve(null),
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Guarantees: a room's messages are appended to one partition in the order `append` is called; once `append`
 * resolves the record is durable (Kafka: acks=all, idempotent producer; embedded: written to the data folder)
 * and its seq is final — a resolved append is in the log at exactly that seq, never a neighbour's. An append not
 * durable within the adapter's deadline rejects with LogUnavailableError (saying whether it may still land).
 * Consumers may see a record more than once (after a crash or a rebalance): they must be idempotent on message id.
 */
export interface MessageLog {
  append(message: NewMessage): Promise<Appended>;
  /** All or nothing (a Kafka transaction): read_committed consumers see all of them or none. */
  appendAtomically(messages: readonly NewMessage[]): Promise<Appended[]>;
  /** The highest seq the room's partition can hold right now (its end offset). */
  latestSeq(roomId: string): Promise<string>;
  /** Appends any record to another topic (read receipts, dead letters), keyed for ordering. */
  publish(topic: string, key: string, value: string | Buffer | object, headers?: Record<string, string>): Promise<void>;
  /** Throws when the log is unreachable (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * Processes a batch of records of one partition, in order. Offsets are committed only after it resolves; if it
 * throws, the batch is retried (and after the retry budget the failing record goes to the dead-letter topic),
 * so handlers must be idempotent.
 */
export type BatchHandler = (records: readonly ConsumedRecord[]) => Promise<void>;

export interface ConsumerGroupOptions {
  groupId: string;
  topic: string;
  handler: BatchHandler;
  /**
   * `latency` (default): hand records over as soon as they exist (live delivery). `throughput`: let a batch gather
   * for a few milliseconds (fewer fetches, commits and queries per record) — for work nobody waits on live.
   */
  batching?: 'latency' | 'throughput';
}

export interface ConsumerGroup {
  readonly groupId: string;
  /** false while the group's consumer is down (after a crash, until it has rejoined). */
  readonly healthy: boolean;
  start(): Promise<void>;
  /** Leaves the group at once (its partitions move to the other members without waiting for a timeout). */
  close(): Promise<void>;
}

/** Makes consumer groups on the same log (every group gets every record of its topic). */
export interface ConsumerGroups {
  create(options: ConsumerGroupOptions): ConsumerGroup;
}
