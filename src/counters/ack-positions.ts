// The ack-position port: where a client-ack subscriber has acknowledged up to, per (user, room). A resuming
// session with `ack: client` / `client-individual` restarts after it, so unacknowledged MESSAGEs are redelivered.

/** Positions only move forward (`advance` is atomic; a lower seq is a no-op). Entries may expire after days. */
export interface AckPositions {
  advance(userId: string, roomId: string, seq: string): Promise<void>;
  get(userId: string, roomId: string): Promise<string | null>;
}
