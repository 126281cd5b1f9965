// The store on PostgreSQL (or PGlite) through Kysely: users, rooms and memberships here; messages, read positions
// and notifications in kysely-messages.ts. Bigints stay strings; times leave as ISO-8601 strings.
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { ChatMessage, MemberView, RoomVisibility } from '../shared/model.js';
import { appError } from '../shared/errors.js';
import * as q from './kysely-messages.js';
import * as blocks from './kysely-blocks.js';
import { findDirectRoom, findOrCreateDirectRoom, listRoomsForUser } from './kysely-rooms.js';
import { iso, toRoom, toUser } from './kysely-rows.js';
import { KyselyWebhookOutbox } from './kysely-webhooks.js';
import type { Database } from './schema.js';
import type { NotificationInput, Store } from './store.js';
import type { WebhookOutbox as W } from '../notifications/outbox.js';

const UNIQUE_VIOLATION = '23505';

export type KyselyStoreOptions =
  | {
      connectionString: string;
      /** Pool size; the persist consumer and REST share it. */
      max?: number;
    }
  | { db: Kysely<Database> };

export class KyselyStore implements Store {
  readonly db: Kysely<Database>;
  private webhooks!: KyselyWebhookOutbox;
  // The webhook outbox, in kysely-webhooks.ts.
  formWebhookDeliveries: W['formWebhookDeliveries'] = (...a) => this.webhooks.formWebhookDeliveries(...a);
  claimWebhookDeliveries: W['claimWebhookDeliveries'] = (...a) => this.webhooks.claimWebhookDeliveries(...a);
  completeWebhookDeliveries: W['completeWebhookDeliveries'] = (...a) => this.webhooks.completeWebhookDeliveries(...a);
  pruneWebhookDeliveries: W['pruneWebhookDeliveries'] = (...a) => this.webhooks.pruneWebhookDeliveries(...a);
  failWebhookDelivery: W['failWebhookDelivery'] = (...a) => this.webhooks.failWebhookDelivery(...a);
  listFailedWebhookDeliveries: W['listFailedWebhookDeliveries'] = (...a) => this.webhooks.listFailedWebhookDeliveries(...a);
  countFailedWebhookDeliveries: W['countFailedWebhookDeliveries'] = (...a) => this.webhooks.countFailedWebhookDeliveries(...a);
  retryWebhookDeliveries: W['retryWebhookDeliveries'] = (...a) => this.webhooks.retryWebhookDeliveries(...a);
  discardWebhookDeliveries: W['discardWebhookDeliveries'] = (...a) => this.webhooks.discardWebhookDeliveries(...a);

  constructor(options: KyselyStoreOptions) {
    if ('db' in options) {
      this.db = options.db;
      this.webhooks = new KyselyWebhookOutbox(this.db);
      return;
    }
    const pool = new pg.Pool({ connectionString: options.connectionString, max: options.max ?? 10 });
    // A dropped connection (PostgreSQL restart) must not crash the process: the pool replaces idle ones, and a
    // client checked out when it drops fails its query — its 'error' event must still have a listener.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    this.db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    this.webhooks = new KyselyWebhookOutbox(this.db);
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

  async findUsersByIds(ids: readonly string[]) {
    if (ids.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('users')
      .selectAll()
      .where('id', 'in', [...ids])
      .execute();
    return new Map(rows.map((r) => [r.id, toUser(r)]));
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
    const res = await this.db.updateTable('users').set({ status, last_seen_at: at }).where('id', '=', userId).where('status', '<>', status).executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async onlineUserIds(limit: number) {
    const rows = await this.db.selectFrom('users').select('id').where('status', '=', 'ONLINE').orderBy('id').limit(limit).execute();
    return rows.map((r) => r.id);
  }

  async offlineUserIds(ids: readonly string[]) {
    if (ids.length === 0) return [];
    const rows = await this.db
      .selectFrom('users')
      .select('id')
      .where('id', 'in', [...ids])
      .where('status', '=', 'OFFLINE')
      .execute();
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

  findOrCreateDirectRoom(a: string, b: string, name: string) {
    return findOrCreateDirectRoom(this.db, a, b, name);
  }

  findDirectRoom(a: string, b: string) {
    return findDirectRoom(this.db, a, b);
  }

  async getRoom(id: string) {
    const row = await this.db.selectFrom('chat_rooms').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toRoom(row) : null;
  }

  async isMember(roomId: string, userId: string) {
    const row = await this.db.selectFrom('chat_room_members').select('id').where('room_id', '=', roomId).where('user_id', '=', userId).executeTakeFirst();
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
    const row = await this.db.selectFrom('room_invitations').select('room_id').where('room_id', '=', roomId).where('user_id', '=', userId).executeTakeFirst();
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
    const res = await this.db.deleteFrom('chat_room_members').where('room_id', '=', roomId).where('user_id', '=', userId).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  async roomIdsOfUser(userId: string) {
    const rows = await this.db.selectFrom('chat_room_members').select('room_id').where('user_id', '=', userId).execute();
    return rows.map((r) => r.room_id);
  }

  listRoomsForUser(userId: string, page?: { limit: number; afterId?: string | null }) {
    return listRoomsForUser(this.db, userId, page);
  }

  block(blockerId: string, blockedId: string, max: number) {
    return blocks.block(this.db, blockerId, blockedId, max);
  }

  unblock(blockerId: string, blockedId: string) {
    return blocks.unblock(this.db, blockerId, blockedId);
  }

  hasBlocked(blockerId: string, blockedId: string) {
    return blocks.hasBlocked(this.db, blockerId, blockedId);
  }

  listBlocked(blockerId: string, limit: number) {
    return blocks.listBlocked(this.db, blockerId, limit);
  }

  addableUserIds(adderId: string, ids: readonly string[]) {
    return blocks.addableUserIds(this.db, adderId, ids);
  }

  insertMessages(messages: readonly ChatMessage[]) {
    return q.insertMessages(this.db, messages);
  }

  messagesAfter(roomId: string, afterSeq: string, limit: number) {
    return q.messagesAfter(this.db, roomId, afterSeq, limit);
  }

  messagesBefore(roomId: string, beforeSeq: string | null, limit: number) {
    return q.messagesBefore(this.db, roomId, beforeSeq, limit);
  }

  findMessageByIdempotencyKey(senderId: string, key: string) {
    return q.findMessageByIdempotencyKey(this.db, senderId, key);
  }

  maxSeq(roomId: string) {
    return q.maxSeq(this.db, roomId);
  }

  countUnread(items: ReadonlyArray<{ roomId: string; userId: string; afterSeq: string }>) {
    return q.countUnread(this.db, items);
  }

  countUnreadBefore(items: ReadonlyArray<{ roomId: string; userId: string; afterSeq: string; beforeSeq: string }>) {
    return q.countUnreadBefore(this.db, items);
  }

  storedSeqs(ids: readonly string[]) {
    return q.storedSeqs(this.db, ids);
  }

  advanceReadSeq(roomId: string, userId: string, seq: string, unreadCount: number | null) {
    return q.advanceReadSeq(this.db, roomId, userId, seq, unreadCount);
  }

  insertNotifications(rows: readonly NotificationInput[], webhookScope?: string | null) {
    return q.insertNotifications(this.db, rows, webhookScope ?? null);
  }

  listNotifications(userId: string, limit: number) {
    return q.listNotifications(this.db, userId, limit);
  }

  async ping() {
    await sql`SELECT 1`.execute(this.db);
  }

  async close() {
    await this.db.destroy();
  }
}
