// Membership leases in memory (embedded mode: one process, so the leave and every check share this map).
import type { MembershipLeases } from './membership-leases.js';
import { TtlMap, type Clock } from './ttl-map-memory.js';

const MAX_ENTRIES = 100_000;

export class MemoryMembershipLeases implements MembershipLeases {
  private readonly leases: TtlMap<true>;

  constructor(private readonly options: { now?: Clock } = {}) {
    this.leases = new TtlMap(MAX_ENTRIES, options.now);
  }

  async announce(pairs: ReadonlyArray<{ roomId: string; userId: string }>, ttlMs: number): Promise<void> {
    // A full map would forget the oldest announcements, which leaves must still see: grant no lease instead.
    if (this.leases.size + pairs.length > MAX_ENTRIES) this.leases.sweep();
    if (this.leases.size + pairs.length > MAX_ENTRIES) throw new Error('too many membership leases');
    for (const p of pairs) this.leases.set(keyOf(p.roomId, p.userId), true, ttlMs);
  }

  async remainingMs(roomId: string, userId: string): Promise<number> {
    return Math.max(0, this.leases.expiresAt(keyOf(roomId, userId)) - (this.options.now ?? Date.now)());
  }
}

const keyOf = (roomId: string, userId: string) => `${roomId}:${userId}`;
