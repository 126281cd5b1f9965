// Read positions in memory (embedded mode): per room, each member's last read seq. Like the Redis cache it can
// lose a room — here the least recently used rooms beyond `maxRooms` — and then answers null until the caller
// reloads it from the store with `load`.
import type { ReadPositions } from './read-positions.js';

export class MemoryReadPositions implements ReadPositions {
  private readonly rooms = new Map<string, Map<string, string>>();

  constructor(private readonly maxRooms = 50_000) {}

  /** The room's positions, marked as most recently used; undefined when the room is not loaded. */
  private room(roomId: string): Map<string, string> | undefined {
    const positions = this.rooms.get(roomId);
    if (positions) {
      this.rooms.delete(roomId);
      this.rooms.set(roomId, positions);
    }
    return positions;
  }

  async advance(roomId: string, userId: string, seq: string) {
    const positions = this.room(roomId);
    if (!positions) return null;
    // Atomic: nothing awaits between the read and the write.
    const cur = positions.get(userId) ?? '0';
    if (BigInt(seq) > BigInt(cur)) {
      positions.set(userId, seq);
      return { lastReadSeq: seq, moved: true };
    }
    return { lastReadSeq: cur, moved: false };
  }

  async load(roomId: string, positions: ReadonlyMap<string, string>) {
    let room = this.room(roomId);
    if (!room) {
      this.rooms.set(roomId, (room = new Map()));
      while (this.rooms.size > this.maxRooms) this.rooms.delete(this.rooms.keys().next().value!);
    }
    // Merge: a position only moves forward, whichever of the cache and the store is ahead.
    for (const [userId, seq] of positions) {
      const cur = room.get(userId);
      if (cur === undefined || BigInt(seq) > BigInt(cur)) room.set(userId, seq);
    }
  }

  async get(roomId: string) {
    const positions = this.room(roomId);
    return positions ? new Map(positions) : null;
  }

  /** Forgets every room, as a Redis restart does (for tests of the reload path). */
  clear(): void {
    this.rooms.clear();
  }
}
