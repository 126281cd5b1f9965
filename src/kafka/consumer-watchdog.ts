// When to give up on a consumer and start a fresh one. kafkajs keeps the group coordinator it found when it joined:
// after the coordinator moves (its node killed and back, a leader election of __consumer_offsets) it can commit to
// the old node for good, answered "not the correct coordinator" every few seconds (measured on a 3-node cluster:
// the persist and notify groups stopped at one offset for minutes). A fresh consumer looks the coordinator up again.
// The watchdog decides from what the consumer reports (its commits) and what the log says (committed offsets and
// ends of the partitions this member owns); replacing is the consumer's job.
import { causes } from '../shared/failures.js';

export interface WatchdogOptions {
  /** Commits failing on the coordinator for this long, with no success between: replace. */
  coordinatorGraceMs: number;
  /** A partition of ours with records waiting whose committed offset has not moved for this long: replace. */
  stallMs: number;
}

export interface PartitionProgress {
  partition: number;
  committed: bigint;
  end: bigint;
}

export class ConsumerWatchdog {
  private coordinatorFailingSince: number | null = null;
  /** per partition with records waiting: the committed offset last seen and since when it has not moved */
  private readonly seen = new Map<number, { committed: bigint; since: number }>();

  constructor(private readonly opts: WatchdogOptions) {}

  commitSucceeded(): void {
    this.coordinatorFailingSince = null;
  }

  /** A commit answered "not the coordinator", "coordinator not available" or "loading". */
  coordinatorFailed(now: number): void {
    this.coordinatorFailingSince ??= now;
  }

  /**
   * What the log says about the partitions this member owns now (others are forgotten). `busy`: a batch is in the
   * handler — waiting on an outage of the store is not a stuck consumer, and a new consumer would not help it.
   */
  observe(progress: readonly PartitionProgress[], now: number, busy = false): void {
    const owned = new Set(progress.map((p) => p.partition));
    for (const p of [...this.seen.keys()]) if (!owned.has(p)) this.seen.delete(p);
    for (const p of progress) {
      const prev = this.seen.get(p.partition);
      // Caught up: nothing waits. Moved since last time, or working: progress. Otherwise a stall's clock keeps running.
      if (p.end <= p.committed) this.seen.delete(p.partition);
      else if (busy || !prev || prev.committed !== p.committed) this.seen.set(p.partition, { committed: p.committed, since: now });
    }
  }

  /** A fresh consumer starts over: nothing it inherits counts against it. */
  reset(): void {
    this.coordinatorFailingSince = null;
    this.seen.clear();
  }

  /** Why the consumer should be replaced now, or null. */
  verdict(now: number): string | null {
    if (this.coordinatorFailingSince !== null && now - this.coordinatorFailingSince >= this.opts.coordinatorGraceMs) {
      return `offset commits have failed on the group coordinator for ${now - this.coordinatorFailingSince} ms`;
    }
    for (const [partition, s] of this.seen) {
      if (now - s.since >= this.opts.stallMs)
        return `partition ${partition} has records waiting and its committed offset ${s.committed} has not moved for ${now - s.since} ms`;
    }
    return null;
  }
}

const COORDINATOR_TYPES = new Set([
  'NOT_COORDINATOR_FOR_GROUP',
  'NOT_COORDINATOR',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_NOT_AVAILABLE',
  'GROUP_LOAD_IN_PROGRESS',
  'COORDINATOR_LOAD_IN_PROGRESS',
]);

/** The coordinator this consumer talks to is not (or not yet) the group's (kafkajs may wrap the error). */
export function isCoordinatorError(err: unknown): boolean {
  for (const e of causes(err, 5)) if (COORDINATOR_TYPES.has(String(e.type))) return true;
  return false;
}
