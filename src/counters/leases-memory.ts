// Leases in memory (embedded mode): one process, so a map with expiry times is exclusive by construction.
import type { Leases } from './leases.js';
import { TtlMap, type Clock } from './ttl-map-memory.js';

export class MemoryLeases implements Leases {
  private readonly leases: TtlMap<string>;

  constructor(options: { now?: Clock } = {}) {
    this.leases = new TtlMap(100_000, options.now);
  }

  async acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    // Like SET NX PX: a live lease is not granted again, not even to its own holder.
    if (this.leases.get(name) !== undefined) return false;
    this.leases.set(name, holder, ttlMs);
    return true;
  }
}
