// The room list of a user (GET /api/rooms) in one query: each room with its member count, the caller's read
// position, the last message and, for DIRECT rooms, the other member.
import { sql, type Kysely } from 'kysely';
import { toMessage, toRoom } from './kysely-rows.js';
import type { Database, MessageRow } from './schema.js';
import type { RoomSummary } from './store.js';

export async function listRoomsForUser(db: Kysely<Database>, userId: string, page?: { limit: number; afterId?: string | null }): Promise<RoomSummary[]> {
  let q = db
    .selectFrom('chat_room_members as me')
    .innerJoin('chat_rooms as r', 'r.id', 'me.room_id')
    .leftJoinLateral(
      (eb) =>
        eb
          .selectFrom('messages as lm')
          .selectAll('lm')
          .whereRef('lm.room_id', '=', 'r.id')
          .orderBy('lm.seq', 'desc')
          .limit(1)
          .as('last'),
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
      sql<{ userId: string; nickname: string } | null>`CASE WHEN r.type = 'DIRECT' THEN (
        SELECT json_build_object('userId', pu.id::text, 'nickname', pu.nickname)
        FROM chat_room_members pm JOIN users pu ON pu.id = pm.user_id
        WHERE pm.room_id = r.id AND pm.user_id <> me.user_id LIMIT 1) END`.as('peer'),
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
