// The notify consumer group: for members with no live session anywhere, a notification row (GET
// /api/notifications), idempotent on (user, message); for members who are online, a fresh `unread` count (with
// the room's last message) on their notification queue.
//
// Unread counts are kept incrementally, per room and member, in this consumer's memory: a partition's records
// arrive in order, so each batch only adds its own messages. The store is asked (one COUNT query for all of them)
// only when a member's count is unknown here or their read position moved since — never per message or per batch
// for a member who is just receiving. With a webhook, the same statement queues the new rows for it
// (src/notifications/). After a gap in the partition's offsets (a rebalance, a restart) the
// partition's counts are dropped and rebuilt the same way.
import type { Events } from '../chat/events.js';
import type { MembersCache } from '../chat/members-cache.js';
import type { Presence } from '../counters/presence.js';
import { toView, type ChatMessage } from '../shared/model.js';
import type { NotificationInput, Store } from '../store/store.js';
import type { BatchHandler } from '../log/message-log.js';
import { decodeChatRecord } from '../log/records.js';

export const NOTIFY_GROUP = 'chat-notify';

export interface NotifyDeps {
  store: Pick<Store, 'insertNotifications' | 'countUnreadBefore'>;
  members: Pick<MembersCache, 'memberIds'>;
  presence: Pick<Presence, 'onlineUsers'>;
  events: Pick<Events, 'userQuietly'>;
  /** Members' read positions as cached (Redis), or null when the cache lost the room. One round trip. */
  cachedPositions(roomId: string): Promise<Map<string, string> | null>;
  /** Members' read positions from the store merged with the cache (reloads the cache). */
  positions(roomId: string): Promise<Map<string, string>>;
  /** Rooms whose counts are kept in memory (least recently used beyond it are dropped). */
  maxRooms?: number;
  /** At most one `unread` event per member and room in this window (the latest count wins). */
  unreadEveryMs?: number;
  /** When set (NOTIFY_WEBHOOK_URL), offline members' new notifications are queued for the webhook in this scope. */
  webhookScope?: string | null;
}

interface MemberCount {
  /** Unread messages up to and including the room's last counted seq. */
  count: number;
  /** The read position the count was computed from. */
  readSeq: bigint;
}

interface RoomCounts {
  partition: number;
  members: Map<string, MemberCount>;
}

export function notifyHandler(deps: NotifyDeps): BatchHandler {
  const { store, presence, events } = deps;
  const maxRooms = deps.maxRooms ?? 50_000;
  const rooms = new Map<string, RoomCounts>();
  /** Per partition: the offset of the last record counted (continuity check). */
  const lastOffset = new Map<number, bigint>();
  const unread = new Coalescer(deps.unreadEveryMs ?? 300, (userId, body) => events.userQuietly(userId, 'unread', body));

  return async (records) => {
    if (records.length === 0) return;
    const partition = records[0]!.partition;
    const first = BigInt(records[0]!.offset);
    // A gap (or a redelivery) in the partition: counts of its rooms can no longer be trusted.
    if (lastOffset.get(partition) !== first - 1n) {
      for (const [roomId, r] of rooms) if (r.partition === partition) rooms.delete(roomId);
    }
    const messages = records.map(decodeChatRecord);
    const byRoom = new Map<string, ChatMessage[]>();
    for (const m of messages) {
      const list = byRoom.get(m.roomId);
      if (list) list.push(m);
      else byRoom.set(m.roomId, [m]);
    }
    const members = await deps.members.memberIds([...byRoom.keys()]);
    const online = await presence.onlineUsers([...new Set([...members.values()].flat())]);

    await store.insertNotifications(offlineNotifications(messages, members, online), deps.webhookScope ?? null);

    // Online members: counts, initialised from the store only where unknown or where the reader moved.
    const updates: Array<{ roomId: string; userId: string; list: ChatMessage[]; readSeq: bigint; base: number | null }> = [];
    for (const [roomId, list] of byRoom) {
      const roomMembers = members.get(roomId) ?? [];
      const targets = roomMembers.filter((u) => online.has(u));
      let room = rooms.get(roomId);
      if (room) rooms.delete(roomId); // re-inserted below: most recently used last
      room ??= { partition, members: new Map() };
      rooms.set(roomId, room);
      // Offline members are not counted here: their counts are rebuilt when they are next online.
      for (const userId of room.members.keys()) if (!online.has(userId)) room.members.delete(userId);
      if (targets.length === 0) continue;
      let positions = await deps.cachedPositions(roomId).catch(() => null);
      if (!positions || targets.some((u) => !positions!.has(u))) positions = await deps.positions(roomId);
      for (const userId of targets) {
        const readSeq = BigInt(positions.get(userId) ?? '0');
        const known = room.members.get(userId);
        updates.push({ roomId, userId, list, readSeq, base: known && known.readSeq === readSeq ? known.count : null });
      }
    }
    const unknown = updates.filter((u) => u.base === null);
    const counted = await store.countUnreadBefore(
      unknown.map((u) => ({ roomId: u.roomId, userId: u.userId, afterSeq: u.readSeq.toString(), beforeSeq: u.list[0]!.seq })),
    );
    unknown.forEach((u, i) => (u.base = counted[i] ?? 0));

    // Ephemeral: a lost update is corrected by the next one or by GET /api/rooms.
    await Promise.all(
      updates.map((u) => {
        const added = u.list.filter((m) => m.senderId !== u.userId && BigInt(m.seq) > u.readSeq).length;
        const count = u.base! + added;
        rooms.get(u.roomId)!.members.set(u.userId, { count, readSeq: u.readSeq });
        // Nothing new for this member (only their own messages): no event.
        return added === 0 ? undefined : unread.send(u.userId, u.roomId, unreadEvent(u.roomId, count, u.readSeq, u.list, members.get(u.roomId) ?? []));
      }),
    );
    lastOffset.set(partition, BigInt(records[records.length - 1]!.offset));
    while (rooms.size > maxRooms) rooms.delete(rooms.keys().next().value!);
  };
}

/** Offline members: a notification row per message (idempotent on user and message). */
function offlineNotifications(messages: readonly ChatMessage[], members: Map<string, string[]>, online: Set<string>): NotificationInput[] {
  const rows: NotificationInput[] = [];
  for (const m of messages) {
    for (const userId of members.get(m.roomId) ?? []) {
      if (userId !== m.senderId && !online.has(userId)) {
        rows.push({ userId, roomId: m.roomId, messageId: m.id, seq: m.seq, senderId: m.senderId, preview: m.content.slice(0, 100) });
      }
    }
  }
  return rows;
}

function unreadEvent(roomId: string, count: number, readSeq: bigint, list: readonly ChatMessage[], members: readonly string[]) {
  const last = list[list.length - 1]!;
  return {
    roomId,
    unreadCount: count,
    lastReadSeq: readSeq.toString(),
    upToSeq: last.seq,
    lastMessage: toView(last, members.length - (members.includes(last.senderId) ? 1 : 0)),
  };
}

/**
 * A busy room would otherwise publish an `unread` event to every member for every batch (members x batches
 * publishes): per member and room, the first event goes out at once, later ones at most once per window with the
 * latest count (counts are absolute, so skipping intermediate ones loses nothing).
 */
class Coalescer {
  private readonly lastSent = new Map<string, number>();
  private readonly pending = new Map<string, { body: unknown }>();

  constructor(
    private readonly windowMs: number,
    private readonly publish: (userId: string, body: unknown) => Promise<void>,
  ) {}

  send(userId: string, roomId: string, body: unknown): Promise<void> | undefined {
    const key = `${userId}:${roomId}`;
    const now = Date.now();
    const waiting = this.pending.get(key);
    if (waiting) return void (waiting.body = body);
    const since = now - (this.lastSent.get(key) ?? 0);
    if (since >= this.windowMs) {
      if (this.lastSent.size >= 100_000) this.prune(now);
      this.lastSent.set(key, now);
      return this.publish(userId, body);
    }
    const entry = { body };
    this.pending.set(key, entry);
    setTimeout(() => {
      this.pending.delete(key);
      this.lastSent.set(key, Date.now());
      void this.publish(userId, entry.body);
    }, this.windowMs - since).unref();
    return undefined;
  }

  private prune(now: number): void {
    for (const [k, t] of this.lastSent) if (now - t >= this.windowMs) this.lastSent.delete(k);
  }
}
