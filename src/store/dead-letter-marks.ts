// The dead-letter marks port: which dead letters an operator has handled (replayed or discarded), durable in the
// store. The dead-letter topic itself is append-only; these marks are what hides a record from the list and takes
// it out of the pending count (src/ops/dead-letters.ts).

export type DeadLetterAction = 'replayed' | 'discarded';

export interface DeadLetterMark {
  topic: string;
  partition: number;
  offset: string;
  action: DeadLetterAction;
  /** Who did it: `user:<id> <email>` from the console, `cli:<user>@<host>` from `npm run dlt`. */
  actor: string;
  /** The record's recordDigest (null on marks made before migration 004: matched by position alone). */
  digest: string | null;
  /** For replays: where the record went (`chat.messages[3]@1234`). */
  replayedTo: string | null;
  /** ISO-8601; set by the store when marking. */
  at: string;
}

export interface DeadLetterMarks {
  /** Records each mark in one transaction; a record marked before gets the newer action (idempotent per record). */
  mark(marks: ReadonlyArray<Omit<DeadLetterMark, 'at'>>): Promise<void>;
  /** The marks of these offsets of one partition (absent: not handled). */
  marksOf(topic: string, partition: number, offsets: readonly string[]): Promise<Map<string, DeadLetterMark>>;
  /** How many records of the partition with offsets in [from, until) are marked. */
  countMarked(topic: string, partition: number, from: bigint, until: bigint): Promise<number>;
  /** Deletes the marks of these offsets (they named records of an earlier topic with the same name). */
  forget(topic: string, partition: number, offsets: readonly string[]): Promise<void>;
  /**
   * Re-creation check: marks made before `before` at offsets at or past `end` cannot name a record of the current
   * topic (a mark is made for a record that exists, and offsets never go back), so the topic was re-created and
   * every mark of the partition made before then is deleted. Answers how many were deleted.
   */
  forgetIfRecreated(topic: string, partition: number, end: bigint, before: Date): Promise<number>;
}
