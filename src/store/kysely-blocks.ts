// Blocks between users: who blocked whom, and the question every "add people to a room" asks in one query —
// which of these users exist, are live, and have not blocked the one adding them.
import { sql, type Kysely } from 'kysely';
import { iso } from './kysely-rows.js';
import type { Database } from './schema.js';
import type { BlockResult, BlockedUser } from './store.js';

export async function block(db: Kysely<Database>, blockerId: string, blockedId: string, max: number): Promise<BlockResult> {
  // The cap is checked in the same statement as the insert (a user's list stays bounded).
  const inserted = await sql<{ one: number }>`
    INSERT INTO user_blocks (blocker_id, blocked_id)
    SELECT ${blockerId}, ${blockedId}
    WHERE (SELECT count(*) FROM user_blocks WHERE blocker_id = ${blockerId}) < ${max}
    ON CONFLICT (blocker_id, blocked_id) DO NOTHING
    RETURNING 1 AS one`.execute(db);
  if (inserted.rows.length > 0) return 'blocked';
  return (await hasBlocked(db, blockerId, blockedId)) ? 'already' : 'limit';
}

export async function unblock(db: Kysely<Database>, blockerId: string, blockedId: string): Promise<boolean> {
  const res = await db.deleteFrom('user_blocks').where('blocker_id', '=', blockerId).where('blocked_id', '=', blockedId).executeTakeFirst();
  return Number(res.numDeletedRows) > 0;
}

export async function hasBlocked(db: Kysely<Database>, blockerId: string, blockedId: string): Promise<boolean> {
  const row = await db
    .selectFrom('user_blocks')
    .select('blocker_id')
    .where('blocker_id', '=', blockerId)
    .where('blocked_id', '=', blockedId)
    .executeTakeFirst();
  return row !== undefined;
}

export async function listBlocked(db: Kysely<Database>, blockerId: string, limit: number): Promise<BlockedUser[]> {
  const rows = await db
    .selectFrom('user_blocks as b')
    .innerJoin('users as u', 'u.id', 'b.blocked_id')
    .select(['u.id', 'u.nickname', 'b.created_at'])
    .where('b.blocker_id', '=', blockerId)
    .orderBy('b.created_at', 'desc')
    .orderBy('u.id')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ userId: r.id, nickname: r.nickname, blockedAt: iso(r.created_at)! }));
}

export async function addableUserIds(db: Kysely<Database>, adderId: string, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('users as u')
    .select('u.id')
    .where('u.id', 'in', [...ids])
    .where('u.deleted_at', 'is', null)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('user_blocks as b').select('b.blocker_id').whereRef('b.blocker_id', '=', 'u.id').where('b.blocked_id', '=', adderId))),
    )
    .execute();
  return rows.map((r) => r.id);
}
