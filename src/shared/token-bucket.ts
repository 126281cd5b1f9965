// Token buckets for flow control and rate limits. A bucket may go into debt: the frame that overdrew it is still handled (it
// was received; dropping it would lose work), and the connection stops reading until the debt is paid back.

export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
  }

  /** Takes one token; false when the bucket is empty (nothing taken). */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** The share of the burst available now (0..1; negative in debt). */
  level(): number {
    this.refill();
    return this.tokens / this.burst;
  }

  /** Takes `n` tokens even when that overdraws the bucket; returns the ms until it is out of debt (0: none). */
  charge(n = 1): number {
    this.refill();
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.perSecond) * 1000);
  }
}

/** One bucket per key, dropped when idle long enough to be full again. */
export class BucketMap {
  private readonly buckets = new Map<string, { bucket: TokenBucket; used: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly maxKeys = 50_000,
  ) {}

  get(key: string): TokenBucket {
    const now = Date.now();
    let entry = this.buckets.get(key);
    if (!entry) {
      if (this.buckets.size >= this.maxKeys) this.sweep(now);
      entry = { bucket: new TokenBucket(this.perSecond, this.burst), used: now };
      this.buckets.set(key, entry);
    }
    entry.used = now;
    return entry.bucket;
  }

  private sweep(now: number): void {
    const idle = (this.burst / this.perSecond) * 1000;
    for (const [k, e] of this.buckets) if (now - e.used > idle) this.buckets.delete(k);
    // Still full of active keys: forget the oldest half rather than grow without bound.
    if (this.buckets.size >= this.maxKeys) {
      let n = this.buckets.size / 2;
      for (const k of this.buckets.keys()) if (n-- > 0) this.buckets.delete(k);
    }
  }
}
