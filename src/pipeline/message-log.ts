// The message log port: the durable, per-room ordered log every message passes through.
import type { ChatMessage, NewMessage } from '../chat/model.js';

export const TOPICS = {
  messages: 'chat.messages',
  readReceipts: 'chat.read-receipts',
  deadLetter: 'chat.messages.dlt',
} as const;

export interface Appended {
  partition: number;
  offset: string;
  /** offset + 1: the message's place in its room. */
  seq: string;
}

/**
 * Guarantees: a room's messages are appended to one partition in the order `append` is called per
 * caller; once `append` resolves the record is durable (acks=all, idempotent producer) and its seq
 * is final. Consumers may see a record more than once (after a crash or a rebalance): they must be
 * idempotent on message id.
 */
export interface MessageLog {
  append(message: NewMessage): Promise<Appended>;
  /** All or nothing (a Kafka transaction): read_committed consumers see all of them or none. */
  appendAtomically(messages: readonly NewMessage[]): Promise<Appended[]>;
  /** The highest seq the room's partition can hold right now (its end offset). */
  latestSeq(roomId: string): Promise<string>;
  /** Appends any JSON record to another topic (read receipts, dead letters), keyed for ordering. */
  publish(topic: string, key: string, value: unknown, headers?: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

/** One consumed chat message, with the coordinates of its record. */
export type ConsumedMessage = ChatMessage;

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * Processes a batch of records of one partition, in order. Offsets are committed only after it
 * resolves; if it throws, the batch is retried (and after the retry budget the failing record goes
 * to the dead-letter topic), so handlers must be idempotent.
 */
export type BatchHandler = (records: readonly ConsumedRecord[]) => Promise<void>;

export interface ConsumerGroup {
  /** false while the group's consumer is down (after a crash, until it has rejoined). */
  readonly healthy: boolean;
  start(): Promise<void>;
  close(): Promise<void>;
}
