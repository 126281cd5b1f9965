// A consumer's offset commits, taken off its fetch → handle loop: a batch whose work is durable records how far its
// partition is done, and every partition recorded since goes to the group coordinator in one request, periodically
// (at 1,000 records/s one commit per batch was about one request per record, and a broker round trip before the
// next fetch). A commit only ever names an offset recorded after the work below it was durable.
import { withTimeout } from '../shared/timeout.js';

export interface CommitOffset {
  topic: string;
  partition: number;
  /** The next offset to read: every record below it is done. */
  offset: string;
}

export interface OffsetCommitterOptions {
  /** One request for every offset given (kafkajs' `consumer.commitOffsets`). */
  commit(offsets: CommitOffset[]): Promise<void>;
  /** How often recorded offsets are committed, in ms. */
  everyMs: number;
  /** A request was accepted. */
  onCommitted?(offsets: readonly CommitOffset[]): void;
  /**
   * A request failed: `retry` keeps its offsets for the next request (a newer offset recorded meanwhile wins),
   * `drop` forgets them (the partitions are no longer this consumer's: their next owner redoes the records idempotently).
   */
  onFailed(err: unknown, offsets: readonly CommitOffset[]): 'retry' | 'drop';
}

export class OffsetCommitter {
  /** by `topic/partition`: the highest offset recorded and not yet committed */
  private pending = new Map<string, { topic: string; partition: number; offset: bigint }>();
  /** One request at a time, so an older offset never lands after a newer one of the same partition. */
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly opts: OffsetCommitterOptions) {}

  /** Every record of the partition below `nextOffset` is durable: commit it with the next request. */
  done(topic: string, partition: number, nextOffset: string): void {
    if (this.closed) return;
    this.merge(topic, partition, BigInt(nextOffset));
    this.schedule();
  }

  /** Forgets what was recorded for partitions this consumer no longer owns (after a rebalance). */
  keepOnly(owned: (topic: string, partition: number) => boolean): void {
    for (const [key, p] of this.pending) if (!owned(p.topic, p.partition)) this.pending.delete(key);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Commits what is recorded now, in one request, after the one in flight (if any) settled. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    return (this.chain = this.chain.then(() => this.send()));
  }

  /** Commits what is recorded and stops; waits at most `ms` (a coordinator that does not answer must not hold up shutdown). */
  async close(ms: number): Promise<void> {
    const last = this.flush();
    this.closed = true;
    await withTimeout(last, ms).catch(() => {});
    this.pending.clear();
  }

  private async send(): Promise<void> {
    if (this.pending.size === 0) return;
    const taken = [...this.pending.values()];
    this.pending.clear();
    const offsets = taken.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset.toString() }));
    try {
      await this.opts.commit(offsets);
    } catch (err) {
      if (this.opts.onFailed(err, offsets) === 'retry' && !this.closed) {
        for (const p of taken) this.merge(p.topic, p.partition, p.offset);
        this.schedule();
      }
      return;
    }
    this.opts.onCommitted?.(offsets);
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.opts.everyMs);
  }

  private merge(topic: string, partition: number, offset: bigint): void {
    const key = `${topic}/${partition}`;
    const current = this.pending.get(key);
    if (!current || current.offset < offset) this.pending.set(key, { topic, partition, offset });
  }
}
