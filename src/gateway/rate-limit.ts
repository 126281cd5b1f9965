// A user's send rate, limited over every instance (see UserSendLimiter).
import type { RateWindows } from '../counters/rate-windows.js';
import { BucketMap } from '../shared/token-bucket.js';

const SYNC_MS = 200;

/**
 * A user's send rate over every instance: each instance charges its own bucket per user (an instant answer) and,
 * every 200 ms, charges what its users sent to a bucket shared by all instances (one Redis call per active
 * user, not per send). A user whose shared bucket is in debt is in debt here too, until it is paid back.
 */
export class UserSendLimiter {
  private readonly local: BucketMap;
  private readonly counts = new Map<string, number>();
  private readonly blockedUntil = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly rates: Pick<RateWindows, 'chargeBucket'>,
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.local = new BucketMap(perSecond, burst);
    this.timer = setInterval(() => void this.sync(), SYNC_MS);
    this.timer.unref();
  }

  /** Charges one send; returns the ms until the user may send again (0: now). */
  charge(userId: string): number {
    this.counts.set(userId, (this.counts.get(userId) ?? 0) + 1);
    const localWait = this.local.get(userId).charge();
    const until = this.blockedUntil.get(userId);
    const sharedWait = until !== undefined && until > Date.now() ? until - Date.now() : 0;
    return Math.max(localWait, sharedWait);
  }

  /**
   * For callers that refuse rather than slow down (REST: 429): takes one send when the user is within budget here
   * and cluster-wide, and takes nothing otherwise.
   */
  tryTake(userId: string): boolean {
    const until = this.blockedUntil.get(userId);
    if (until !== undefined && until > Date.now()) return false;
    if (!this.local.get(userId).take()) return false;
    this.counts.set(userId, (this.counts.get(userId) ?? 0) + 1);
    return true;
  }

  private async sync(): Promise<void> {
    const now = Date.now();
    for (const [u, t] of this.blockedUntil) if (t <= now) this.blockedUntil.delete(u);
    if (this.counts.size === 0) return;
    const batch = [...this.counts];
    this.counts.clear();
    await Promise.all(
      batch.map(async ([userId, n]) => {
        try {
          const left = await this.rates.chargeBucket(`send:${userId}`, n, this.perSecond, this.burst);
          if (left < 0) this.blockedUntil.set(userId, Date.now() + Math.ceil((-left / this.perSecond) * 1000));
        } catch {
          // The shared bucket is unavailable: the local bucket alone limits this instance's share.
        }
      }),
    );
  }

  close(): void {
    clearInterval(this.timer);
  }
}
