// Rate windows and token buckets in memory (embedded mode): the Redis adapter's arithmetic and expiry, in a map.
import { windowStart, type RateWindows } from './rate-windows.js';
import { TtlMap, type Clock } from './ttl-map-memory.js';

export class MemoryRateWindows implements RateWindows {
  private readonly counts: TtlMap<number>;
  private readonly buckets: TtlMap<{ tokens: number; at: number }>;
  private readonly now: Clock;

  constructor(options: { maxEntries?: number; now?: Clock } = {}) {
    this.now = options.now ?? Date.now;
    this.counts = new TtlMap(options.maxEntries ?? 500_000, this.now);
    this.buckets = new TtlMap(options.maxEntries ?? 500_000, this.now);
  }

  async add(key: string, n: number, windowMs: number): Promise<number> {
    const start = windowStart(this.now(), windowMs);
    const k = `${key}:${start}`;
    const total = (this.counts.get(k) ?? 0) + n;
    // The window outlives its end by one length (as in Redis), so a late add still finds its count.
    this.counts.set(k, total, start + windowMs * 2 - this.now());
    return total;
  }

  async chargeBucket(key: string, n: number, perSecond: number, burst: number): Promise<number> {
    const now = this.now();
    const b = this.buckets.get(key) ?? { tokens: burst, at: now };
    const tokens = Math.min(burst, b.tokens + (Math.max(0, now - b.at) * perSecond) / 1000) - n;
    // Kept until it would have refilled completely (then it is the same as a fresh bucket), plus a second.
    this.buckets.set(key, { tokens, at: now }, Math.ceil(((burst - Math.min(tokens, 0) + 1) / perSecond) * 1000) + 1000);
    return tokens;
  }
}
