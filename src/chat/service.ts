// Chat use cases: rooms, membership, sending, history. Rules only: infrastructure comes in as ports.
import { randomUUID } from 'node:crypto';
import { appError } from '../errors.js';
import type { MessageLog } from '../pipeline/message-log.js';
import type { Store } from '../store/store.js';
import type { ChatMessage, MemberView, MessageType, MessageView, Room, User } from './model.js';
import { toView } from './model.js';
import type { EventPublisher, IdempotencyStore } from './ports.js';

// Unpaired UTF-16 surrogates cannot be encoded as UTF-8: such text would not survive storage intact.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export interface SendInput {
  content: string;
  type?: MessageType;
  idempotencyKey?: string | null;
}

export interface SendResult {
  message: ChatMessage;
  /** true when the idempotency key mapped to an earlier message: nothing new was sent. */
  duplicate: boolean;
}

export interface ChatServiceDeps {
  store: Store;
  log: MessageLog;
  idempotency: IdempotencyStore;
  events: EventPublisher;
  maxContentBytes: number;
  unreadCounts(roomId: string, messages: readonly ChatMessage[]): Promise<number[]>;
  /** Members' current read positions (the read service's view: newer than PostgreSQL's). */
  readPositions(roomId: string): Promise<Map<string, string>>;
  /** How long a positive membership answer is reused (ms). Leaving takes effect on other instances within it. */
  membershipTtlMs?: number;
  now?: () => Date;
}

export class ChatService {
  private readonly memberCache = new Map<string, number>();

  constructor(private readonly deps: ChatServiceDeps) {}

  // --- membership ---------------------------------------------------------------------------

  /** Throws not-found for an unknown room and forbidden for a non-member. */
  async requireMember(roomId: string, userId: string): Promise<void> {
    const key = `${roomId}:${userId}`;
    const until = this.memberCache.get(key);
    if (until !== undefined && until > Date.now()) return;
    if (await this.deps.store.isMember(roomId, userId)) {
      if (this.memberCache.size > 100_000) this.memberCache.clear();
      this.memberCache.set(key, Date.now() + (this.deps.membershipTtlMs ?? 5000));
      return;
    }
    this.memberCache.delete(key);
    const room = await this.deps.store.getRoom(roomId);
    if (!room) throw appError('not-found', `room ${roomId} not found`);
    throw appError('forbidden', 'not a member of this room');
  }

  // --- rooms ----------------------------------------------------------------------------------

  async createDirect(user: User, peerUserId: string): Promise<{ room: Room; created: boolean }> {
    if (peerUserId === user.id) throw appError('invalid-request', 'cannot open a direct room with yourself', 'peerUserId');
    const peer = await this.deps.store.findUserById(peerUserId);
    if (!peer || peer.deletedAt) throw appError('invalid-request', `user ${peerUserId} does not exist`, 'peerUserId');
    const result = await this.deps.store.findOrCreateDirectRoom(user.id, peerUserId, `${user.nickname}, ${peer.nickname}`);
    if (result.created) {
      for (const u of [user.id, peerUserId]) await this.deps.events.userEvent(u, 'room-added', { room: result.room }).catch(() => {});
    }
    return result;
  }

  async createGroup(user: User, name: string, memberIds: readonly string[]): Promise<Room> {
    const wanted = [...new Set(memberIds.filter((id) => id !== user.id))];
    const existing = new Set(await this.deps.store.existingUserIds(wanted));
    const missing = wanted.filter((id) => !existing.has(id));
    if (missing.length > 0) throw appError('invalid-request', `unknown users: ${missing.join(', ')}`, 'memberIds');
    const room = await this.deps.store.createGroupRoom(user.id, name, wanted);
    for (const u of [user.id, ...wanted]) await this.deps.events.userEvent(u, 'room-added', { room }).catch(() => {});
    return room;
  }

  async getRoom(user: User, roomId: string): Promise<Room & { members: MemberView[] }> {
    await this.requireMember(roomId, user.id);
    const room = await this.deps.store.getRoom(roomId);
    if (!room) throw appError('not-found', `room ${roomId} not found`);
    const [members, positions] = await Promise.all([this.deps.store.listMembers(roomId), this.deps.readPositions(roomId)]);
    return { ...room, members: members.map((m) => ({ ...m, lastReadSeq: positions.get(m.userId) ?? m.lastReadSeq })) };
  }

  async join(user: User, roomId: string): Promise<Room> {
    const room = await this.deps.store.getRoom(roomId);
    if (!room) throw appError('not-found', `room ${roomId} not found`);
    if (room.type !== 'GROUP') throw appError('forbidden', 'only GROUP rooms can be joined');
    if (await this.deps.store.addMember(roomId, user.id)) {
      await this.deps.events.roomEvent(roomId, 'member-joined', { userId: user.id, nickname: user.nickname }).catch(() => {});
    }
    return room;
  }

  async leave(user: User, roomId: string): Promise<void> {
    const room = await this.deps.store.getRoom(roomId);
    if (!room) throw appError('not-found', `room ${roomId} not found`);
    this.memberCache.delete(`${roomId}:${user.id}`);
    if (await this.deps.store.removeMember(roomId, user.id)) {
      await this.deps.events.roomEvent(roomId, 'member-left', { userId: user.id }).catch(() => {});
    }
  }

  // --- messages -------------------------------------------------------------------------------

  /** Validates a send; returns the normalised content. Throws invalid-message. */
  validate(input: SendInput): { content: string; type: MessageType; idempotencyKey: string | null } {
    const content = input.content;
    if (typeof content !== 'string' || content.length === 0) throw appError('invalid-message', 'content is empty', 'content');
    if (Buffer.byteLength(content, 'utf8') > this.deps.maxContentBytes) {
      throw appError('invalid-message', `content is larger than ${this.deps.maxContentBytes} bytes of UTF-8`, 'content');
    }
    if (LONE_SURROGATE.test(content)) throw appError('invalid-message', 'content is not valid Unicode text', 'content');
    // PostgreSQL text cannot hold U+0000: refused here, before Kafka acknowledges something we could never store.
    if (content.includes('\u0000')) throw appError('invalid-message', 'content must not contain NUL characters', 'content');
    const type = input.type ?? 'TEXT';
    if (type !== 'TEXT' && type !== 'IMAGE') throw appError('invalid-message', 'type must be TEXT or IMAGE', 'type');
    const key = input.idempotencyKey ?? null;
    if (key !== null && (key.length === 0 || key.length > 128)) {
      throw appError('invalid-message', 'idempotencyKey must be 1..128 characters', 'idempotencyKey');
    }
    return { content, type, idempotencyKey: key };
  }

  /**
   * Appends a message to the room's log. Resolves once Kafka acknowledged it, with its final seq.
   * The same (sender, idempotency key) always resolves to the same message, never a second record.
   */
  async send(user: User, roomId: string, input: SendInput): Promise<{ message: MessageView; duplicate: boolean }> {
    const { message, duplicate } = await (await this.beginSend(user, roomId, input))();
    return { message: await this.view(message), duplicate };
  }

  /**
   * The checks of a send (validation, membership, idempotency claim), then a function that appends.
   * Calling the returned functions in order appends in that order (the log queues synchronously),
   * so a connection keeps its FIFO order without waiting for each acknowledgement.
   */
  async beginSend(user: User, roomId: string, input: SendInput): Promise<() => Promise<SendResult>> {
    const { content, type, idempotencyKey } = this.validate(input);
    await this.requireMember(roomId, user.id);
    const message = {
      id: randomUUID(),
      roomId,
      senderId: user.id,
      type,
      content,
      idempotencyKey,
      createdAt: (this.deps.now?.() ?? new Date()).toISOString(),
    };
    if (idempotencyKey !== null) {
      const earlier = await this.claimOrWait(user.id, idempotencyKey, message.id);
      if (earlier) return async () => ({ message: earlier, duplicate: true });
    }
    return async () => {
      let chat: ChatMessage;
      try {
        chat = { ...message, ...(await this.deps.log.append(message)) };
      } catch (err) {
        // Not acknowledged: let the client retry under the same key.
        if (idempotencyKey !== null) await this.deps.idempotency.release(user.id, idempotencyKey).catch(() => {});
        throw appError('server-unavailable', 'the message log did not acknowledge the message; retry', undefined, err);
      }
      if (idempotencyKey !== null) await this.deps.idempotency.complete(user.id, idempotencyKey, chat).catch(() => {});
      return { message: chat, duplicate: false };
    };
  }

  /** The SENDs of a STOMP transaction: all appended atomically (one Kafka transaction) or none. */
  async sendAtomically(user: User, items: ReadonlyArray<{ roomId: string; input: SendInput }>): Promise<ChatMessage[]> {
    const messages = [];
    for (const { roomId, input } of items) {
      const v = this.validate(input);
      await this.requireMember(roomId, user.id);
      messages.push({ id: randomUUID(), roomId, senderId: user.id, ...v, createdAt: new Date().toISOString() });
    }
    let appended;
    try {
      appended = await this.deps.log.appendAtomically(messages);
    } catch (err) {
      throw appError('server-unavailable', 'the transaction was not committed', undefined, err);
    }
    return messages.map((m, i) => ({ ...m, ...appended[i]! }));
  }

  private async claimOrWait(senderId: string, key: string, messageId: string): Promise<ChatMessage | null> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      let record;
      try {
        record = await this.deps.idempotency.claim(senderId, key, messageId);
      } catch (err) {
        throw appError('server-unavailable', 'idempotency keys are unavailable; retry', undefined, err);
      }
      if (record === null) {
        // Claimed. The key may still have been used before the cache lost it: the store remembers.
        const stored = await this.deps.store.findMessageByIdempotencyKey(senderId, key);
        if (stored) {
          await this.deps.idempotency.complete(senderId, key, stored);
          return stored;
        }
        return null;
      }
      if (record.state === 'done') return record.message;
      // Another send with this key is in flight: wait for its outcome.
      if (Date.now() > deadline) throw appError('conflict', 'a send with this idempotency key is still in progress', 'idempotencyKey');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async view(m: ChatMessage): Promise<MessageView> {
    const [unread] = await this.unreadCounts(m.roomId, [m]);
    return toView(m, unread ?? 0);
  }

  /** Per message: members other than the sender who have not read it (from the read service). */
  unreadCounts(roomId: string, messages: readonly ChatMessage[]): Promise<number[]> {
    return this.deps.unreadCounts(roomId, messages);
  }

  async history(
    user: User,
    roomId: string,
    q: { limit: number; before?: string | null; afterSeq?: string | null },
  ): Promise<{ messages: MessageView[]; nextCursor?: string | null; hasMore?: boolean }> {
    await this.requireMember(roomId, user.id);
    const toViews = async (list: ChatMessage[]) => {
      const unread = await this.unreadCounts(roomId, list);
      return list.map((m, i) => toView(m, unread[i] ?? 0));
    };
    if (q.afterSeq !== undefined && q.afterSeq !== null) {
      const page = await this.deps.store.messagesAfter(roomId, q.afterSeq, q.limit + 1);
      const hasMore = page.length > q.limit;
      return { messages: await toViews(page.slice(0, q.limit)), hasMore };
    }
    const page = await this.deps.store.messagesBefore(roomId, q.before ?? null, q.limit + 1);
    const more = page.length > q.limit;
    const list = page.slice(0, q.limit);
    return { messages: await toViews(list), nextCursor: more ? list[list.length - 1]!.seq : null };
  }
}
