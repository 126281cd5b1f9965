// Token buckets for SEND rate limits (per connection and per user on this instance).

export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** One bucket per key, dropped when idle long enough to be full again. */
export class BucketMap {
  private readonly buckets = new Map<string, { bucket: TokenBucket; used: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  get(key: string): TokenBucket {
    const now = Date.now();
    let entry = this.buckets.get(key);
    if (!entry) {
      if (this.buckets.size > 50_000) this.sweep(now);
      entry = { bucket: new TokenBucket(this.perSecond, this.burst), used: now };
      this.buckets.set(key, entry);
    }
    entry.used = now;
    return entry.bucket;
  }

  private sweep(now: number): void {
    const idle = (this.burst / this.perSecond) * 1000;
    for (const [k, e] of this.buckets) if (now - e.used > idle) this.buckets.delete(k);
  }
}
