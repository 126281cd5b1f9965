// Messages, read positions and notifications in PostgreSQL (or PGlite) through Kysely: the write-heavy half of the
// store, as plain functions over a Kysely instance (KyselyStore delegates to them).
import { sql, type Kysely } from 'kysely';
import type { ChatMessage } from '../shared/model.js';
import { iso, toMessage } from './kysely-rows.js';
import type { Database } from './schema.js';
import type { Notification, NotificationInput } from './store.js';

// PostgreSQL's bind message counts parameters in 16 bits: keep each multi-row INSERT well below 65,535.
const MAX_ROWS_PER_INSERT = 1000;

export async function insertMessages(db: Kysely<Database>, messages: readonly ChatMessage[]): Promise<number> {
  if (messages.length === 0) return 0;
  if (messages.length > MAX_ROWS_PER_INSERT) {
    // One transaction: a batch is stored entirely or not at all (catch-up relies on "seq H stored => all before it").
    return db.transaction().execute(async (trx) => {
      let n = 0;
      for (let i = 0; i < messages.length; i += MAX_ROWS_PER_INSERT) n += await insertMessages(trx, messages.slice(i, i + MAX_ROWS_PER_INSERT));
      return n;
    });
  }
  // ON CONFLICT DO NOTHING without a target covers all three unique keys: a redelivered record
  // (same id, same seq) and a second copy under the same idempotency key are both no-ops.
  const res = await db
    .insertInto('messages')
    .values(
      messages.map((m) => ({
        id: m.id,
        room_id: m.roomId,
        seq: m.seq,
        sender_id: m.senderId,
        content: m.content,
        type: m.type,
        idempotency_key: m.idempotencyKey,
        kafka_partition: m.partition,
        kafka_offset: m.offset,
        created_at: m.createdAt,
      })),
    )
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0);
}

export async function messagesAfter(db: Kysely<Database>, roomId: string, afterSeq: string, limit: number) {
  const rows = await db
    .selectFrom('messages')
    .selectAll()
    .where('room_id', '=', roomId)
    .where('seq', '>', afterSeq)
    .orderBy('seq', 'asc')
    .limit(limit)
    .execute();
  return rows.map(toMessage);
}

export async function messagesBefore(db: Kysely<Database>, roomId: string, beforeSeq: string | null, limit: number) {
  let q = db.selectFrom('messages').selectAll().where('room_id', '=', roomId);
  if (beforeSeq !== null) q = q.where('seq', '<', beforeSeq);
  const rows = await q.orderBy('seq', 'desc').limit(limit).execute();
  return rows.map(toMessage);
}

export async function findMessageByIdempotencyKey(db: Kysely<Database>, senderId: string, key: string) {
  const row = await db.selectFrom('messages').selectAll().where('sender_id', '=', senderId).where('idempotency_key', '=', key).executeTakeFirst();
  return row ? toMessage(row) : null;
}

export async function maxSeq(db: Kysely<Database>, roomId: string) {
  const row = await db
    .selectFrom('messages')
    .select((eb) => eb.fn.max('seq').as('max'))
    .where('room_id', '=', roomId)
    .executeTakeFirst();
  return row?.max ? String(row.max) : '0';
}

export function countUnread(db: Kysely<Database>, items: ReadonlyArray<{ roomId: string; userId: string; afterSeq: string }>) {
  return countUnreadBefore(
    db,
    items.map((i) => ({ ...i, beforeSeq: '9223372036854775807' })),
  );
}

export async function countUnreadBefore(db: Kysely<Database>, items: ReadonlyArray<{ roomId: string; userId: string; afterSeq: string; beforeSeq: string }>) {
  if (items.length === 0) return [];
  const rows = await sql<{ i: number; n: string }>`
    SELECT q.i, (SELECT count(*) FROM messages m
                 WHERE m.room_id = q.room_id AND m.seq > q.after_seq AND m.seq < q.before_seq
                   AND m.sender_id <> q.user_id) AS n
    FROM unnest(${items.map((x) => x.roomId)}::bigint[], ${items.map((x) => x.userId)}::bigint[],
                ${items.map((x) => x.afterSeq)}::bigint[], ${items.map((x) => x.beforeSeq)}::bigint[])
         WITH ORDINALITY AS q(room_id, user_id, after_seq, before_seq, i)`.execute(db);
  const out = new Array<number>(items.length).fill(0);
  for (const r of rows.rows) out[Number(r.i) - 1] = Number(r.n);
  return out;
}

export async function storedSeqs(db: Kysely<Database>, ids: readonly string[]) {
  if (ids.length === 0) return new Map<string, string>();
  const rows = await db
    .selectFrom('messages')
    .select(['id', 'seq'])
    .where('id', 'in', [...ids])
    .execute();
  return new Map(rows.map((r) => [r.id, r.seq]));
}

export async function advanceReadSeq(db: Kysely<Database>, roomId: string, userId: string, seq: string, unreadCount: number | null) {
  const row = await db
    .updateTable('chat_room_members')
    .set((eb) => ({
      last_read_seq: sql<string>`GREATEST(${eb.ref('last_read_seq')}, ${seq}::bigint)`,
      last_read_message_id: sql<string | null>`CASE WHEN ${seq}::bigint > ${eb.ref('last_read_seq')}
        THEN (SELECT id FROM messages WHERE room_id = ${roomId} AND seq <= ${seq}::bigint ORDER BY seq DESC LIMIT 1)
        ELSE ${eb.ref('last_read_message_id')} END`,
      ...(unreadCount === null ? {} : { unread_count: unreadCount }),
    }))
    .where('room_id', '=', roomId)
    .where('user_id', '=', userId)
    .returning('last_read_seq')
    .executeTakeFirst();
  return row?.last_read_seq ?? '0';
}

export async function insertNotifications(db: Kysely<Database>, rows: readonly NotificationInput[], webhookScope: string | null = null): Promise<number> {
  if (rows.length === 0) return 0;
  if (rows.length > MAX_ROWS_PER_INSERT) {
    let n = 0;
    for (let i = 0; i < rows.length; i += MAX_ROWS_PER_INSERT) n += await insertNotifications(db, rows.slice(i, i + MAX_ROWS_PER_INSERT), webhookScope);
    return n;
  }
  if (webhookScope !== null) return insertNotificationsWithOutbox(db, rows, webhookScope);
  const res = await db
    .insertInto('notifications')
    .values(
      rows.map((r) => ({
        user_id: r.userId,
        room_id: r.roomId,
        message_id: r.messageId,
        seq: r.seq,
        sender_id: r.senderId,
        preview: r.preview,
      })),
    )
    .onConflict((oc) => oc.constraint('notifications_user_message_uk').doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0);
}

/**
 * One statement for both tables: a crash leaves both or neither. The outbox row is idempotent on its own key
 * (scope, user, message), not on whether this statement created the notification row: another deployment sharing
 * the database may have written that one first.
 */
async function insertNotificationsWithOutbox(db: Kysely<Database>, rows: readonly NotificationInput[], scope: string): Promise<number> {
  const { rows: out } = await sql<{ n: string }>`
    WITH input AS (
      SELECT * FROM unnest(${rows.map((r) => r.userId)}::bigint[], ${rows.map((r) => r.roomId)}::bigint[],
                           ${rows.map((r) => r.messageId)}::uuid[], ${rows.map((r) => r.seq)}::bigint[],
                           ${rows.map((r) => r.senderId)}::bigint[], ${rows.map((r) => r.preview)}::text[])
             AS t(user_id, room_id, message_id, seq, sender_id, preview)
    ), ins AS (
      INSERT INTO notifications (user_id, room_id, message_id, seq, sender_id, preview)
      SELECT user_id, room_id, message_id, seq, sender_id, preview FROM input
      ON CONFLICT ON CONSTRAINT notifications_user_message_uk DO NOTHING
      RETURNING 1
    ), outbox AS (
      INSERT INTO webhook_outbox (scope, user_id, room_id, message_id, seq)
      SELECT ${scope}::text, user_id, room_id, message_id, seq FROM input
      ON CONFLICT ON CONSTRAINT webhook_outbox_scope_user_message_uk DO NOTHING
    )
    SELECT count(*) AS n FROM ins`.execute(db);
  return Number(out[0]?.n ?? 0);
}

export async function listNotifications(db: Kysely<Database>, userId: string, limit: number): Promise<Notification[]> {
  const rows = await db.selectFrom('notifications').selectAll().where('user_id', '=', userId).orderBy('id', 'desc').limit(limit).execute();
  return rows.map((r) => ({
    id: r.id,
    userId: r.user_id,
    roomId: r.room_id,
    messageId: r.message_id,
    seq: r.seq,
    senderId: r.sender_id,
    preview: r.preview,
    createdAt: iso(r.created_at)!,
  }));
}
