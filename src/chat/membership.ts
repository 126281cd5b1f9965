// Who may read and write a room, answered by the store every time it matters (no cache that a leave could
// outlive), plus the one cache the send path keeps for a store outage, emptied by membership events.
import type { Store } from '../store/store.js';
import { appError } from '../shared/errors.js';
import { isTransientError } from '../shared/failures.js';

const FALLBACK_TTL_MS = 10 * 60_000;
const FALLBACK_MAX = 100_000;

export class Membership {
  /** (room:user) -> expiry of a positive answer, used only while the store is unreachable. */
  private readonly fallback = new Map<string, number>();

  constructor(private readonly store: Pick<Store, 'isMember' | 'areMembers'>) {}

  /**
   * Throws `forbidden` unless the user is a member. A missing room answers the same as a foreign one (no
   * existence oracle).
   */
  async require(roomId: string, userId: string): Promise<void> {
    if (!(await this.store.isMember(roomId, userId))) throw appError('forbidden', 'not a member of this room (or no such room)');
    this.remember(roomId, userId);
  }

  /**
   * Membership of a batch of sends, one store round trip. When the store is down, a pair answered "member"
   * within the last minutes (and not left since: see forget) is still a member, so members keep talking through
   * a PostgreSQL restart; everyone else is refused with the store's error.
   */
  async check(pairs: ReadonlyArray<{ roomId: string; userId: string }>): Promise<boolean[]> {
    try {
      const answers = await this.store.areMembers(pairs);
      pairs.forEach((p, i) => answers[i] && this.remember(p.roomId, p.userId));
      return answers;
    } catch (err) {
      if (!isTransientError(err)) throw err;
      const now = Date.now();
      const cached = pairs.map((p) => (this.fallback.get(`${p.roomId}:${p.userId}`) ?? 0) > now);
      if (cached.every(Boolean)) return cached;
      throw err;
    }
  }

  /** A membership event said the user left: the outage fallback must not keep them in. */
  forget(roomId: string, userId: string): void {
    this.fallback.delete(`${roomId}:${userId}`);
  }

  private remember(roomId: string, userId: string): void {
    if (this.fallback.size >= FALLBACK_MAX) this.fallback.clear();
    this.fallback.set(`${roomId}:${userId}`, Date.now() + FALLBACK_TTL_MS);
  }
}
