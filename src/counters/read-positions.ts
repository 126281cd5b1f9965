// The read-position port: per room, each member's last read seq.

/**
 * Positions only move forward: `advance` is atomic per (room, user) and a lower seq is a no-op.
 * The cache may lose a room (Redis restart): `advance` and `get` then return null and the caller
 * reloads the room from durable storage with `load`, which merges (keeps the higher position).
 */
export interface ReadPositions {
  advance(roomId: string, userId: string, seq: string): Promise<{ lastReadSeq: string; moved: boolean } | null>;
  load(roomId: string, positions: ReadonlyMap<string, string>): Promise<void>;
  get(roomId: string): Promise<Map<string, string> | null>;
}
