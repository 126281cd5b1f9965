// Read receipts and unread counts. Redis holds the positions (atomic, forward-only); every move is also appended
// to chat.read-receipts, whose consumer syncs PostgreSQL and re-merges Redis, so a Redis restart loses nothing:
// positions reload from PostgreSQL and late receipts merge by max.
import type { ReadPositions } from '../counters/read-positions.js';
import type { MessageLog } from '../log/message-log.js';
import { TOPICS } from '../log/message-log.js';
import { appError } from '../shared/errors.js';
import type { ChatMessage, MessageView, UserRef } from '../shared/model.js';
import { toView } from '../shared/model.js';
import type { Store } from '../store/store.js';
import type { Events } from './events.js';
import type { Membership } from './membership.js';

export interface ReadReceipt {
  roomId: string;
  userId: string;
  seq: string;
}

export interface ReadServiceDeps {
  store: Pick<Store, 'listMembers' | 'maxSeq' | 'countUnread'>;
  positions: ReadPositions;
  log: Pick<MessageLog, 'publish' | 'latestSeq'>;
  events: Events;
  membership: Pick<Membership, 'require'>;
  lastBroadcastSeq(roomId: string): Promise<string | null>;
}

const max = (a: string, b: string) => (BigInt(a) >= BigInt(b) ? a : b);

export class ReadService {
  constructor(private readonly deps: ReadServiceDeps) {}

  /** Members' read positions: the higher of Redis and PostgreSQL, reloading Redis if it lost the room. */
  async positions(roomId: string): Promise<Map<string, string>> {
    const members = await this.deps.store.listMembers(roomId);
    let cached: Map<string, string> | null = null;
    try {
      cached = await this.deps.positions.get(roomId);
      if (cached === null) await this.deps.positions.load(roomId, new Map(members.map((m) => [m.userId, m.lastReadSeq])));
    } catch {
      // Redis down: PostgreSQL's positions are the best we have (they lag by the receipts consumer).
    }
    return new Map(members.map((m) => [m.userId, max(m.lastReadSeq, cached?.get(m.userId) ?? '0')]));
  }

  /** Per message: members other than the sender whose position is below it. */
  async unreadCounts(roomId: string, messages: readonly ChatMessage[]): Promise<number[]> {
    if (messages.length === 0) return [];
    const positions = [...(await this.positions(roomId))].map(([u, s]) => [u, BigInt(s)] as const);
    return messages.map((msg) => {
      const seq = BigInt(msg.seq);
      let n = 0;
      for (const [u, s] of positions) if (u !== msg.senderId && s < seq) n++;
      return n;
    });
  }

  /** The API's message JSON for stored or appended messages, with their current unread counts. */
  async views(roomId: string, messages: readonly ChatMessage[]): Promise<MessageView[]> {
    const unread = await this.unreadCounts(roomId, messages);
    return messages.map((m, i) => toView(m, unread[i] ?? 0));
  }

  async markRead(user: UserRef, roomId: string, seq: string): Promise<{ lastReadSeq: string; unreadCount: number }> {
    await this.deps.membership.require(roomId, user.id);
    // Never past the newest message: a position in the future would hide messages not sent yet.
    const [stored, broadcast] = await Promise.all([this.deps.store.maxSeq(roomId), this.deps.lastBroadcastSeq(roomId).catch(() => null)]);
    const high = max(stored, broadcast ?? '0');
    let target = seq;
    if (BigInt(seq) > BigInt(high)) {
      // A seq just acknowledged to its sender may be neither stored nor broadcast yet: it is taken as asked when the
      // room's partition already holds it; a seq beyond the partition's end cannot exist and clamps to the newest.
      const end = await this.deps.log.latestSeq(roomId).catch(() => '0');
      if (BigInt(seq) > BigInt(end)) target = high;
    }
    let result;
    try {
      result = await this.deps.positions.advance(roomId, user.id, target);
      if (result === null) {
        await this.positions(roomId);
        result = await this.deps.positions.advance(roomId, user.id, target);
      }
    } catch (err) {
      throw appError('server-unavailable', 'read positions are unavailable; retry', undefined, err);
    }
    if (result === null) throw appError('server-unavailable', 'read positions could not be loaded; retry');
    const { lastReadSeq, moved } = result;
    if (moved) {
      try {
        await this.deps.log.publish(TOPICS.readReceipts, roomId, { roomId, userId: user.id, seq: lastReadSeq } satisfies ReadReceipt);
      } catch (err) {
        throw appError('server-unavailable', 'the read receipt was not recorded; retry', undefined, err);
      }
    }
    const [unreadCount] = await this.deps.store.countUnread([{ roomId, userId: user.id, afterSeq: lastReadSeq }]);
    if (moved) {
      await Promise.all([
        this.deps.events.roomQuietly(roomId, 'read', { userId: user.id, lastReadSeq }),
        // lastReadSeq lets a client drop an older count that arrives later (the notify group's events carry it too).
        this.deps.events.userQuietly(user.id, 'unread', { roomId, unreadCount, lastReadSeq }),
      ]);
    }
    return { lastReadSeq, unreadCount: unreadCount ?? 0 };
  }

  /** The caller's unread count per room (GET /api/rooms). */
  async unreadForRooms(userId: string, rooms: ReadonlyArray<{ id: string; lastReadSeq: string }>): Promise<Map<string, number>> {
    const items = await Promise.all(
      rooms.map(async (r) => {
        let pos = r.lastReadSeq;
        try {
          const cached = await this.deps.positions.get(r.id);
          pos = max(pos, cached?.get(userId) ?? '0');
        } catch {
          // PostgreSQL's position stands in while Redis is down.
        }
        return { roomId: r.id, userId, afterSeq: pos };
      }),
    );
    const counts = await this.deps.store.countUnread(items);
    return new Map(items.map((it, i) => [it.roomId, counts[i] ?? 0]));
  }
}
