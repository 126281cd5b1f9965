// The dead-letter record format — the headers the consumer adds when it gives up on a record, and the one a replay
// adds when it puts a record back — and the dead-letter port: the topic read back and records put back where they
// came from. Adapters: kafka-dead-letters.ts (chat.messages.dlt) and local-dead-letters.ts (the embedded log);
// the list / replay / discard rules on top are in src/ops/dead-letters.ts, shared by `npm run dlt` and the console.

import { createHash } from 'node:crypto';

export const DLT_HEADERS = {
  error: 'x-error',
  attempts: 'x-attempts',
  group: 'x-consumer-group',
  sourceTopic: 'x-source-topic',
  sourcePartition: 'x-source-partition',
  sourceOffset: 'x-source-offset',
  /** ISO-8601 time of the dead-lettering (the embedded log keeps no record timestamps). */
  at: 'x-dead-lettered-at',
} as const;

/** Set on records the dead-letter tool re-publishes: consumers must not re-broadcast an already stored message. */
export const REPLAYED_HEADER = 'x-replayed-from-dlt-offset';

/** A record of the dead-letter topic as read back. */
export interface DeadLetterRecord {
  partition: number;
  offset: string;
  /** When it was dead-lettered (ISO-8601): the x-dead-lettered-at header, else the log's record time, else null. */
  timestamp: string | null;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * A record's identity beyond its position (SHA-256 of key, value and headers, base64url): offsets start again at 0
 * when a topic is re-created, so a mark made for the old topic's record must not apply to the new one there.
 */
export function recordDigest(r: Pick<DeadLetterRecord, 'key' | 'value' | 'headers'>): string {
  const h = createHash('sha256');
  // Length-prefixed parts: no two different records hash the same bytes.
  const part = (b: Buffer | string | null) => {
    if (b === null) return void h.update('-');
    const buf = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
    h.update(`${buf.length}:`).update(buf);
  };
  part(r.key);
  part(r.value);
  for (const k of Object.keys(r.headers).sort()) {
    part(k);
    part(r.headers[k]!);
  }
  return h.digest('base64url');
}

/** A record to append to an explicit partition. */
export interface OutgoingRecord {
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * The dead-letter topic of a message log. Reads are snapshots of what was durable when they started; `append`
 * resolves once the record is durable (Kafka: acks=all) with its offset. Nothing here deletes: the topic is
 * append-only, so "handled" is recorded elsewhere (store/dead-letter-marks.ts).
 */
export interface DeadLetterTopic {
  readonly topic: string;
  /** Per partition: the first retained offset and the end offset (the next to be written). */
  bounds(): Promise<Array<{ partition: number; low: bigint; high: bigint }>>;
  /** Records of one partition with offsets in [from, until), oldest first, at most `limit`. */
  read(partition: number, from: bigint, until: bigint, limit: number): Promise<DeadLetterRecord[]>;
  /** How many partitions `topic` has (0 when it does not exist): replays check a record's source coordinates. */
  partitionCount(topic: string): Promise<number>;
  /** Appends to an explicit partition of `topic` (a replay goes back to the partition it came from). */
  append(topic: string, partition: number, record: OutgoingRecord): Promise<string>;
  close(): Promise<void>;
}
