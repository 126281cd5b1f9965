// Membership leases in Redis: one key per (room, user) whose time to live is the latest lease announced on it (every
// lease has the same length, so the latest SET ends last). With a replica (Sentinel), an announcement counts only
// once the replica has it, so a failover cannot hide a live lease from a leave.
import type { Redis } from 'ioredis';
import type { MembershipLeases } from './membership-leases.js';
import type { ReplicaWait } from './replica-wait-redis.js';

const keyOf = (roomId: string, userId: string) => `chat:mlease:${roomId}:${userId}`;

export class RedisMembershipLeases implements MembershipLeases {
  constructor(
    private readonly redis: Pick<Redis, 'pipeline' | 'pttl'>,
    private readonly replica?: ReplicaWait,
  ) {}

  async announce(pairs: ReadonlyArray<{ roomId: string; userId: string }>, ttlMs: number): Promise<void> {
    const mark = this.replica?.mark() ?? 0;
    const pipeline = this.redis.pipeline();
    for (const p of pairs) pipeline.set(keyOf(p.roomId, p.userId), '1', 'PX', ttlMs);
    const results = (await pipeline.exec()) ?? [];
    for (const [err] of results) if (err) throw err;
    if (results.length !== pairs.length) throw new Error('membership leases: the announcement was not answered');
    // Not replicated in time: the lease stands on the primary alone, which a failover could lose. Use none.
    if (this.replica && !(await this.replica.replicated(mark))) throw new Error('membership leases: the announcement did not reach the replica');
  }

  async remainingMs(roomId: string, userId: string): Promise<number> {
    // -2: no key (none announced, or all ran out); -1 cannot happen (every key is SET with PX).
    return Math.max(0, await this.redis.pttl(keyOf(roomId, userId)));
  }
}
