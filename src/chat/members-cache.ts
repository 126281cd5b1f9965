// Member lists of rooms for the consumers that need them per batch (broadcast: the unread count of a new message;
// notify: who to count and notify): one store query for the rooms not cached, entries dropped on membership events
// and after a short TTL (membership events are at most once).
import type { Store } from '../store/store.js';

export class MembersCache {
  private readonly entries = new Map<string, { ids: string[]; until: number }>();

  constructor(
    private readonly store: Pick<Store, 'memberIds'>,
    private readonly ttlMs = 5000,
    private readonly maxRooms = 50_000,
  ) {}

  async memberIds(roomIds: readonly string[]): Promise<Map<string, string[]>> {
    const now = Date.now();
    const out = new Map<string, string[]>();
    const missing: string[] = [];
    for (const id of roomIds) {
      const e = this.entries.get(id);
      if (e && e.until > now) out.set(id, e.ids);
      else missing.push(id);
    }
    if (missing.length === 0) return out;
    const fetched = await this.store.memberIds(missing);
    if (this.entries.size + missing.length > this.maxRooms) this.entries.clear();
    for (const id of missing) {
      const ids = fetched.get(id) ?? [];
      this.entries.set(id, { ids, until: now + this.ttlMs });
      out.set(id, ids);
    }
    return out;
  }

  /** A member joined or left: the next batch of the room reads the store again. */
  invalidate(roomId: string): void {
    this.entries.delete(roomId);
  }
}
