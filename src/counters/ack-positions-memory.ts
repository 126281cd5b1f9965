// Ack positions in memory (embedded mode): one entry per (user, room), kept for days like the Redis keys.
import type { AckPositions } from './ack-positions.js';
import { TtlMap, type Clock } from './ttl-map-memory.js';

const TTL_MS = 7 * 86_400_000;

export interface MemoryAckPositionsOptions {
  /** Bound on remembered positions; the least recently advanced go first (their unacked MESSAGEs are redelivered). */
  maxEntries?: number;
  now?: Clock;
}

export class MemoryAckPositions implements AckPositions {
  private readonly positions: TtlMap<string>;

  constructor(options: MemoryAckPositionsOptions = {}) {
    this.positions = new TtlMap(options.maxEntries ?? 200_000, options.now);
  }

  async advance(userId: string, roomId: string, seq: string): Promise<void> {
    const key = `${userId}:${roomId}`;
    const cur = this.positions.get(key);
    // Atomic: nothing awaits between the read and the write. A lower seq is a no-op (like the Lua max).
    if (cur === undefined || BigInt(seq) > BigInt(cur)) this.positions.set(key, seq, TTL_MS);
  }

  async get(userId: string, roomId: string): Promise<string | null> {
    return this.positions.get(`${userId}:${roomId}`) ?? null;
  }
}
