// A bounded map whose entries expire: what the in-memory counters use where Redis has keys with a TTL.
// Expired entries vanish on read and in an amortised sweep; past `maxEntries` the least recently written go first.

/** Milliseconds since the epoch; injectable so tests can move time. */
export type Clock = () => number;

interface Entry<V> {
  value: V;
  expiresAt: number;
}

export class TtlMap<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private writes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly now: Clock = Date.now,
  ) {}

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** When the entry expires (like PTTL, as a time): 0 when there is none. */
  expiresAt(key: string): number {
    return this.get(key) === undefined ? 0 : this.entries.get(key)!.expiresAt;
  }

  /** Sets the value and its time to live (like SET ... PX). */
  set(key: string, value: V, ttlMs: number): void {
    // Re-insert so Map order is write order: the first entries are the least recently written.
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
    // A full sweep every 1024 writes keeps expired entries from piling up at O(1) amortised cost.
    if (++this.writes % 1024 === 0) this.sweep();
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  delete(key: string): boolean {
    return this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  sweep(): void {
    const now = this.now();
    for (const [key, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(key);
  }
}
