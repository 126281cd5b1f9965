// The store on PostgreSQL through Kysely. Bigints stay strings; times leave as ISO-8601 strings.
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { ChatMessage, MemberView, Room, RoomVisibility } from '../shared/model.js';
import { appError } from '../shared/errors.js';
import type { Database, MessageRow, RoomRow, UserRow } from './schema.js';
import type { Notification, NotificationInput, RoomSummary, Store, UserWithSecret } from './store.js';

const UNIQUE_VIOLATION = '23505';
// PostgreSQL's bind message counts parameters in 16 bits: keep each multi-row INSERT well below 65,535.
const MAX_ROWS_PER_INSERT = 1000;

function iso(d: Date | string | null): string | null {
  if (d === null) return null;
  return (d instanceof Date ? d : new Date(d)).toISOString();
}

function toUser(r: UserRow): UserWithSecret {
  return {
    id: r.id,
    email: r.email,
    nickname: r.nickname,
    status: r.status,
    lastSeenAt: iso(r.last_seen_at),
    passwordHash: r.password_hash,
    deletedAt: iso(r.deleted_at),
  };
}

function toRoom(r: Pick<RoomRow, 'id' | 'name' | 'type' | 'visibility' | 'created_by' | 'created_at'>): Room {
  return { id: r.id, name: r.name, type: r.type, visibility: r.visibility, createdBy: r.created_by, createdAt: iso(r.created_at)! };
}

function toMessage(r: MessageRow): ChatMessage {
  return {
    id: r.id,
    roomId: r.room_id,
    seq: r.seq,
    senderId: r.sender_id,
    type: r.type,
    content: r.content,
    idempotencyKey: r.idempotency_key,
    createdAt: iso(r.created_at)!,
    partition: r.kafka_partition,
    offset: r.kafka_offset,
  };
}

export type KyselyStoreOptions =
  | {
      connectionString: string;
      /** Pool size; the persist consumer and REST share it. */
      max?: number;
    }
  | { db: Kysely<Database> };

export class KyselyStore implements Store {
  readonly db: Kysely<Database>;

  constructor(options: KyselyStoreOptions) {
    if ('db' in options) {
      this.db = options.db;
      return;
    }
    const pool = new pg.Pool({ connectionString: options.connectionString, max: options.max ?? 10 });
    // A dropped idle connection (PostgreSQL restart) must not crash the process: the pool replaces it.
    pool.on('error', () => {});
    this.db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }

  async createUser(input: { email: string; passwordHash: string; nickname: string }) {
    try {
      const row = await this.db
        .insertInto('users')
        .values({ email: input.email, password_hash: input.passwordHash, nickname: input.nickname })
        .returningAll()
        .executeTakeFirstOrThrow();
      const { passwordHash: _p, deletedAt: _d, ...user } = toUser(row);
      return user;
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) {
        throw appError('email-taken', 'an account with this email already exists', 'email');
      }
      throw err;
    }
  }

  async findUserByEmail(email: string) {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where(sql<string>`lower(email)`, '=', email.toLowerCase())
      .executeTakeFirst();
    return row ? toUser(row) : null;
  }

  async findUserById(id: string) {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toUser(row) : null;
  }

  async existingUserIds(ids: readonly string[]) {
    if (ids.length === 0) return [];
    const rows = await this.db
      .selectFrom('users')
      .select('id')
      .where('id', 'in', [...ids])
      .where('deleted_at', 'is', null)
      .execute();
    return rows.map((r) => r.id);
  }

  async searchUsers(query: string, limit: number) {
    const q = query.toLowerCase();
    // LIKE metacharacters in the query are data, not patterns.
    const prefix = q.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
    const rows = await this.db
      .selectFrom('users')
      .select(['id', 'nickname', 'email'])
      .where('deleted_at', 'is', null)
      .where((eb) => eb.or([eb(sql<string>`lower(email)`, '=', q), eb(sql<string>`lower(nickname)`, 'like', prefix)]))
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows;
  }

  async setUserStatus(userId: string, status: 'ONLINE' | 'OFFLINE', at: Date) {
    const res = await this.db
      .updateTable('users')
      .set({ status, last_seen_at: at })
      .where('id', '=', userId)
      .where('status', '<>', status)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async onlineUserIds(limit: number) {
    const rows = await this.db.selectFrom('users').select('id').where('status', '=', 'ONLINE').orderBy('id').limit(limit).execute();
    return rows.map((r) => r.id);
  }

  async createGroupRoom(createdBy: string, name: string, memberIds: readonly string[], visibility: RoomVisibility) {
    return this.db.transaction().execute(async (trx) => {
      const room = await trx
        .insertInto('chat_rooms')
        .values({ name, type: 'GROUP', created_by: createdBy, visibility })
        .returningAll()
        .executeTakeFirstOrThrow();
      const all = [...new Set([createdBy, ...memberIds])];
      await trx
        .insertInto('chat_room_members')
        .values(all.map((u) => ({ room_id: room.id, user_id: u })))
        .onConflict((oc) => oc.constraint('chat_room_members_uk').doNothing())
        .execute();
      return toRoom(room);
    });
  }

  async findOrCreateDirectRoom(a: string, b: string, name: string) {
    const [lo, hi] = BigInt(a) < BigInt(b) ? [a, b] : [b, a];
    const key = `${lo}:${hi}`;
    return this.db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('chat_rooms')
        .values({ name, type: 'DIRECT', created_by: a, direct_key: key })
        .onConflict((oc) => oc.column('direct_key').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (inserted) {
        await trx
          .insertInto('chat_room_members')
          .values([lo, hi].map((u) => ({ room_id: inserted.id, user_id: u })))
          .execute();
        return { room: toRoom(inserted), created: true };
      }
      const existing = await trx
        .selectFrom('chat_rooms')
        .selectAll()
        .where('direct_key', '=', key)
        .executeTakeFirstOrThrow();
      return { room: toRoom(existing), created: false };
    });
  }

  async getRoom(id: string) {
    const row = await this.db.selectFrom('chat_rooms').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRoom(row) : null;
  }

  async isMember(roomId: string, userId: string) {
    const row = await this.db
      .selectFrom('chat_room_members')
      .select('id')
      .where('room_id', '=', roomId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row !== undefined;
  }

  async areMembers(pairs: ReadonlyArray<{ roomId: string; userId: string }>) {
    if (pairs.length === 0) return [];
    const rows = await sql<{ i: number }>`
      SELECT q.i FROM unnest(${pairs.map((p) => p.roomId)}::bigint[], ${pairs.map((p) => p.userId)}::bigint[])
             WITH ORDINALITY AS q(room_id, user_id, i)
      WHERE EXISTS (SELECT 1 FROM chat_room_members m WHERE m.room_id = q.room_id AND m.user_id = q.user_id)`.execute(this.db);
    const out = new Array<boolean>(pairs.length).fill(false);
    for (const r of rows.rows) out[Number(r.i) - 1] = true;
    return out;
  }

  async invite(roomId: string, userId: string, invitedBy: string) {
    await this.db
      .insertInto('room_invitations')
      .values({ room_id: roomId, user_id: userId, invited_by: invitedBy })
      .onConflict((oc) => oc.columns(['room_id', 'user_id']).doNothing())
      .execute();
  }

  async isInvited(roomId: string, userId: string) {
    const row = await this.db
      .selectFrom('room_invitations')
      .select('room_id')
      .where('room_id', '=', roomId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row !== undefined;
  }

  async countRoomsCreatedSince(userId: string, since: Date) {
    const row = await this.db
      .selectFrom('chat_rooms')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('created_by', '=', userId)
      .where('created_at', '>=', since)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async memberIds(roomIds: readonly string[]) {
    const out = new Map<string, string[]>();
    if (roomIds.length === 0) return out;
    const rows = await this.db
      .selectFrom('chat_room_members')
      .select(['room_id', 'user_id'])
      .where('room_id', 'in', [...roomIds])
      .execute();
    for (const r of rows) {
      const list = out.get(r.room_id);
      if (list) list.push(r.user_id);
      else out.set(r.room_id, [r.user_id]);
    }
    return out;
  }

  async listMembers(roomId: string): Promise<MemberView[]> {
    const rows = await this.db
      .selectFrom('chat_room_members as m')
      .innerJoin('users as u', 'u.id', 'm.user_id')
      .select(['m.user_id', 'u.nickname', 'u.status', 'u.last_seen_at', 'm.last_read_seq'])
      .where('m.room_id', '=', roomId)
      .orderBy('m.user_id')
      .execute();
    return rows.map((r) => ({
      userId: r.user_id,
      nickname: r.nickname,
      status: r.status,
      lastSeenAt: iso(r.last_seen_at),
      lastReadSeq: r.last_read_seq,
    }));
  }

  async addMember(roomId: string, userId: string) {
    await this.db.deleteFrom('room_invitations').where('room_id', '=', roomId).where('user_id', '=', userId).execute();
    // A new member has read everything before joining: unread starts at the join point.
    const res = await this.db
      .insertInto('chat_room_members')
      .values({
        room_id: roomId,
        user_id: userId,
        last_read_seq: sql<string>`(SELECT coalesce(max(seq), 0) FROM messages WHERE room_id = ${roomId})`,
      })
      .onConflict((oc) => oc.constraint('chat_room_members_uk').doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async removeMember(roomId: string, userId: string) {
    const res = await this.db
      .deleteFrom('chat_room_members')
      .where('room_id', '=', roomId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async roomIdsOfUser(userId: string) {
    const rows = await this.db.selectFrom('chat_room_members').select('room_id').where('user_id', '=', userId).execute();
    return rows.map((r) => r.room_id);
  }

  async listRoomsForUser(userId: string, page?: { limit: number; afterId?: string | null }): Promise<RoomSummary[]> {
    let q = this.db
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

  async insertMessages(messages: readonly ChatMessage[]): Promise<number> {
    if (messages.length === 0) return 0;
    if (messages.length > MAX_ROWS_PER_INSERT) {
      // One transaction: a batch is stored entirely or not at all (catch-up relies on "seq H stored => all before it").
      return this.db.transaction().execute(async (trx) => {
        const inner = new KyselyStore({ db: trx });
        let n = 0;
        for (let i = 0; i < messages.length; i += MAX_ROWS_PER_INSERT) n += await inner.insertMessages(messages.slice(i, i + MAX_ROWS_PER_INSERT));
        return n;
      });
    }
    // ON CONFLICT DO NOTHING without a target covers all three unique keys: a redelivered record
    // (same id, same seq) and a second copy under the same idempotency key are both no-ops.
    const res = await this.db
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

  async messagesAfter(roomId: string, afterSeq: string, limit: number) {
    const rows = await this.db
      .selectFrom('messages')
      .selectAll()
      .where('room_id', '=', roomId)
      .where('seq', '>', afterSeq)
      .orderBy('seq', 'asc')
      .limit(limit)
      .execute();
    return rows.map(toMessage);
  }

  async messagesBefore(roomId: string, beforeSeq: string | null, limit: number) {
    let q = this.db.selectFrom('messages').selectAll().where('room_id', '=', roomId);
    if (beforeSeq !== null) q = q.where('seq', '<', beforeSeq);
    const rows = await q.orderBy('seq', 'desc').limit(limit).execute();
    return rows.map(toMessage);
  }

  async findMessageByIdempotencyKey(senderId: string, key: string) {
    const row = await this.db
      .selectFrom('messages')
      .selectAll()
      .where('sender_id', '=', senderId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
    return row ? toMessage(row) : null;
  }

  async maxSeq(roomId: string) {
    const row = await this.db
      .selectFrom('messages')
      .select((eb) => eb.fn.max('seq').as('max'))
      .where('room_id', '=', roomId)
      .executeTakeFirst();
    return row?.max ? String(row.max) : '0';
  }

  countUnread(items: ReadonlyArray<{ roomId: string; userId: string; afterSeq: string }>) {
    return this.countUnreadBefore(items.map((i) => ({ ...i, beforeSeq: '9223372036854775807' })));
  }

  async countUnreadBefore(items: ReadonlyArray<{ roomId: string; userId: string; afterSeq: string; beforeSeq: string }>) {
    if (items.length === 0) return [];
    const rows = await sql<{ i: number; n: string }>`
      SELECT q.i, (SELECT count(*) FROM messages m
                   WHERE m.room_id = q.room_id AND m.seq > q.after_seq AND m.seq < q.before_seq
                     AND m.sender_id <> q.user_id) AS n
      FROM unnest(${items.map((x) => x.roomId)}::bigint[], ${items.map((x) => x.userId)}::bigint[],
                  ${items.map((x) => x.afterSeq)}::bigint[], ${items.map((x) => x.beforeSeq)}::bigint[])
           WITH ORDINALITY AS q(room_id, user_id, after_seq, before_seq, i)`.execute(this.db);
    const out = new Array<number>(items.length).fill(0);
    for (const r of rows.rows) out[Number(r.i) - 1] = Number(r.n);
    return out;
  }

  async storedSeqs(ids: readonly string[]) {
    if (ids.length === 0) return new Map<string, string>();
    const rows = await this.db.selectFrom('messages').select(['id', 'seq']).where('id', 'in', [...ids]).execute();
    return new Map(rows.map((r) => [r.id, r.seq]));
  }

  async advanceReadSeq(roomId: string, userId: string, seq: string, unreadCount: number | null) {
    const row = await this.db
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

  async insertNotifications(rows: readonly NotificationInput[]): Promise<number> {
    if (rows.length === 0) return 0;
    if (rows.length > MAX_ROWS_PER_INSERT) {
      let n = 0;
      for (let i = 0; i < rows.length; i += MAX_ROWS_PER_INSERT) n += await this.insertNotifications(rows.slice(i, i + MAX_ROWS_PER_INSERT));
      return n;
    }
    const res = await this.db
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

  async listNotifications(userId: string, limit: number): Promise<Notification[]> {
    const rows = await this.db
      .selectFrom('notifications')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
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

  async ping() {
    await sql`SELECT 1`.execute(this.db);
  }

  async close() {
    await this.db.destroy();
  }
}
