// Who may read and write a room, answered by the store — except that a batch of sends may reuse a "member" answer
// for LEASE_MS under a lease every leave waits out (no SEND passes a check once a leave returned), plus the one
// cache the send path keeps for a store outage, emptied by membership events.
import type { MembershipLeases } from '../counters/membership-leases.js';
import type { Store } from '../store/store.js';
import { appError } from '../shared/errors.js';
import { isTransientError } from '../shared/failures.js';
import { withTimeout } from '../shared/timeout.js';

const FALLBACK_TTL_MS = 10 * 60_000;
const FALLBACK_MAX = 100_000;
/** How long a "member" answer may be reused for sends; the longest a leave waits (measured: PERF_RESULT.md, round 2). */
export const LEASE_MS = 2000;
const LEASES_MAX = 100_000;
/** A lease table slower than this (Redis failing over, or down) is passed by: the store answers, as without leases. */
const LEASE_TABLE_MS = 500;

type Pair = { roomId: string; userId: string };

export class Membership {
  /** (room:user) -> expiry of a positive answer, used only while the store is unreachable. */
  private readonly fallback = new Map<string, number>();
  /** (room:user) -> end of this instance's lease (performance.now() time), announced before the store was asked. */
  private readonly leased = new Map<string, number>();

  constructor(
    private readonly store: Pick<Store, 'isMember' | 'areMembers'>,
    private readonly leases?: MembershipLeases,
  ) {}

  /**
   * Throws `forbidden` unless the user is a member. A missing room answers the same as a foreign one (no
   * existence oracle).
   */
  async require(roomId: string, userId: string): Promise<void> {
    if (!(await this.store.isMember(roomId, userId))) throw appError('forbidden', 'not a member of this room (or no such room)');
    this.remember(roomId, userId);
  }

  /**
   * Membership of a batch of sends: pairs under a live lease are members; the others cost one store round trip
   * (after their leases were announced, so a leave that commits before the store answers waits the leases out).
   * "Not a member" is never reused. When the store is down, a pair answered "member" within the last minutes (and
   * not left since: see forget) is still a member, so members keep talking through a PostgreSQL restart; everyone
   * else is refused with the store's error.
   */
  async check(pairs: readonly Pair[]): Promise<boolean[]> {
    const now = performance.now();
    const answers = pairs.map((p) => (this.leased.get(keyOf(p)) ?? 0) > now);
    const asked = pairs.filter((_, i) => !answers[i]);
    if (asked.length === 0) return answers;
    const leaseEnds = await this.announce(asked);
    let found: boolean[];
    try {
      found = await this.store.areMembers(asked);
    } catch (err) {
      if (!isTransientError(err)) throw err;
      const until = Date.now();
      if (asked.every((p) => (this.fallback.get(keyOf(p)) ?? 0) > until)) return pairs.map(() => true);
      throw err;
    }
    if (this.leased.size >= LEASES_MAX) this.leased.clear();
    asked.forEach((p, i) => {
      if (!found[i]) return;
      this.remember(p.roomId, p.userId);
      if (leaseEnds !== null) this.leased.set(keyOf(p), leaseEnds);
    });
    let next = 0;
    return answers.map((a) => a || found[next++]!);
  }

  /** A membership event said the user left: neither the outage fallback nor this instance's lease keeps them in. */
  forget(roomId: string, userId: string): void {
    this.fallback.delete(`${roomId}:${userId}`);
    this.leased.delete(`${roomId}:${userId}`);
  }

  /**
   * Resolves once every lease on the pair announced so far (by any instance) has run out: called by a leave after
   * the store committed it. When the leases cannot be read, waits the longest a lease can last.
   */
  async leasesEnded(roomId: string, userId: string): Promise<void> {
    if (!this.leases) return;
    const ms = await withTimeout(this.leases.remainingMs(roomId, userId), LEASE_TABLE_MS).catch(() => LEASE_MS);
    // +1: the store rounds its time to live to whole milliseconds.
    if (ms > 0) await new Promise((r) => setTimeout(r, ms + 1));
  }

  /** The end of the leases now announced on `pairs`, or null when none may be used (no leases, or not announced). */
  private async announce(pairs: readonly Pair[]): Promise<number | null> {
    if (!this.leases) return null;
    // Counted from before the announcement: the store's copy of it ends later than ours.
    const ends = performance.now() + LEASE_MS;
    try {
      // An announcement that lands after the timeout is harmless: it only makes a leave wait longer.
      await withTimeout(this.leases.announce(pairs, LEASE_MS), LEASE_TABLE_MS);
      return ends;
    } catch {
      return null;
    }
  }

  private remember(roomId: string, userId: string): void {
    if (this.fallback.size >= FALLBACK_MAX) this.fallback.clear();
    this.fallback.set(`${roomId}:${userId}`, Date.now() + FALLBACK_TTL_MS);
  }
}

const keyOf = (p: Pair) => `${p.roomId}:${p.userId}`;
