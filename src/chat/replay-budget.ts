// The replay budget: how many stored messages one user may have replayed per minute, over every instance — since-seq
// SUBSCRIBEs (and client-ack resumes) and REST history pages. Without it one connection could ask for a room's whole
// history again and again (100 × since-seq:0 on 1,500 messages: 150,000 MESSAGEs, 90 MiB, in 2.4 s, for ~10 KB in).
// The live path is never charged: messages a subscription receives live, or that the hub repairs after a gap the
// at-most-once bus left, are not replays.
import type { RateWindows } from '../counters/rate-windows.js';
import { appError } from '../shared/errors.js';

export class ReplayBudget {
  private readonly perSecond: number;

  /**
   * A token bucket per user in the rate-window port (Redis in cluster mode: shared by every instance), holding a
   * minute's worth (`perMinute`) and refilling at that rate.
   */
  constructor(
    private readonly rates: Pick<RateWindows, 'chargeBucket'>,
    private readonly perMinute: number,
  ) {
    this.perSecond = perMinute / 60;
  }

  private key(userId: string): string {
    return `replay:${userId}`;
  }

  /**
   * A replay may start while the user has budget left; otherwise rate-limited. When the counters are unreachable
   * the replay is allowed (resuming during a Redis outage matters more than the bound).
   */
  async admit(userId: string): Promise<void> {
    let left: number;
    try {
      left = await this.rates.chargeBucket(this.key(userId), 0, this.perSecond, this.perMinute);
    } catch {
      return;
    }
    if (left < 1)
      throw appError('rate-limited', `replay budget used up (REPLAY_MESSAGES_PER_MIN=${this.perMinute}); retry in ${Math.ceil((1 - left) / this.perSecond)} s`);
  }

  /** Charges `n` replayed messages; returns the ms until the user is out of debt (0: not in debt). */
  async charge(userId: string, n: number): Promise<number> {
    if (n <= 0) return 0;
    try {
      const left = await this.rates.chargeBucket(this.key(userId), n, this.perSecond, this.perMinute);
      return left >= 0 ? 0 : Math.ceil((-left / this.perSecond) * 1000);
    } catch {
      return 0;
    }
  }
}
