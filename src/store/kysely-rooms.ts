// The room list of a user (GET /api/rooms) in one query: each room with its member count, the caller's read
// position, the last message and, for DIRECT rooms, the other member; and DIRECT rooms, one per pair.
import { sql, type Kysely } from 'kysely';
import { toMessage, toRoom } from './kysely-rows.js';
import type { Database, MessageRow } from './schema.js';
import type { Room } from '../shared/model.js';
import type { RoomSummary } from './store.js';

export async function listRoomsForUser(db: Kysely<Database>, userId: string, page?: { limit: number; afterId?: string | null }): Promise<RoomSummary[]> {
  let q = db
    .selectFrom('chat_room_members as me')
    .innerJoin('chat_rooms as r', 'r.id', 'me.room_id')
    .leftJoinLateral(
      (eb) => eb.selectFrom('messages as lm').selectAll('lm').whereRef('lm.room_id', '=', 'r.id').orderBy('lm.seq', 'desc').limit(1).as('last'),
      (join) => join.onTrue(),
    )
    .select([
      'r.id',
      'r.name',
      'r.type',
      'r.visibility',
      'r.created_by',
      'r.created_at',
      'me.last_read_seq',
      (eb) =>
        eb
          .selectFrom('chat_room_members as c')
          .select((e) => e.fn.countAll<string>().as('n'))
          .whereRef('c.room_id', '=', 'r.id')
          .as('members'),
      sql<MessageRow | null>`CASE WHEN last.id IS NULL THEN NULL ELSE to_jsonb(last) END`.as('last_message'),
      // The other member from the pair key, not from the members: a blocked peer is no longer a member.
      sql<{ userId: string; nickname: string } | null>`CASE WHEN r.type = 'DIRECT' THEN (
        SELECT json_build_object('userId', pu.id::text, 'nickname', pu.nickname) FROM users pu
        WHERE pu.id = (CASE WHEN split_part(r.direct_key, ':', 1)::bigint = me.user_id
                            THEN split_part(r.direct_key, ':', 2) ELSE split_part(r.direct_key, ':', 1) END)::bigint) END`.as('peer'),
    ])
    .where('me.user_id', '=', userId)
    .orderBy('r.id');
  if (page?.afterId) q = q.where('r.id', '>', page.afterId);
  if (page) q = q.limit(page.limit);
  const rows = await q.execute();
  return rows.map((r) => ({
    ...toRoom(r),
    members: Number(r.members),
    lastReadSeq: r.last_read_seq,
    peer: r.peer ?? null,
    lastMessage: r.last_message
      ? toMessage({
          ...r.last_message,
          room_id: String(r.last_message.room_id),
          seq: String(r.last_message.seq),
          sender_id: String(r.last_message.sender_id),
          kafka_offset: String(r.last_message.kafka_offset),
        })
      : null,
  }));
}

const directKey = (a: string, b: string) => (BigInt(a) < BigInt(b) ? `${a}:${b}` : `${b}:${a}`);

/**
 * One DIRECT room per unordered pair (a unique key). An existing room gets back a member it lost (a block lifted,
 * then the room opened again): `restored` names them.
 */
export async function findOrCreateDirectRoom(
  db: Kysely<Database>,
  a: string,
  b: string,
  name: string,
): Promise<{ room: Room; created: boolean; restored: string[] }> {
  const key = directKey(a, b);
  return db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('chat_rooms')
      .values({ name, type: 'DIRECT', created_by: a, direct_key: key })
      .onConflict((oc) => oc.column('direct_key').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted) {
      await trx
        .insertInto('chat_room_members')
        .values([a, b].map((u) => ({ room_id: inserted.id, user_id: u })))
        .execute();
      return { room: toRoom(inserted), created: true, restored: [] };
    }
    const existing = await trx.selectFrom('chat_rooms').selectAll().where('direct_key', '=', key).executeTakeFirstOrThrow();
    // A member put back has read everything up to now (as anyone joining a room).
    const back = await trx
      .insertInto('chat_room_members')
      .values(
        [a, b].map((u) => ({
          room_id: existing.id,
          user_id: u,
          last_read_seq: sql<string>`(SELECT coalesce(max(seq), 0) FROM messages WHERE room_id = ${existing.id})`,
        })),
      )
      .onConflict((oc) => oc.constraint('chat_room_members_uk').doNothing())
      .returning('user_id')
      .execute();
    return { room: toRoom(existing), created: false, restored: back.map((r) => r.user_id) };
  });
}

export async function findDirectRoom(db: Kysely<Database>, a: string, b: string): Promise<Room | null> {
  const row = await db.selectFrom('chat_rooms').selectAll().where('direct_key', '=', directKey(a, b)).executeTakeFirst();
  return row ? toRoom(row) : null;
}
