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
import { UnreadCoalescer } from './unread-coalescer.js';

export const NOTIFY_GROUP = 'chat-notify';

export interface NotifyDeps {
  store: Pick<Store, 'insertNotifications' | 'countUnreadBefore'>;
  members: Pick<MembersCache, 'memberIds'>;
  presence: Pick<Presence, 'onlineUsers'>;
  events: Pick<Events, 'usersQuietly'>;
  /** Members' read positions as cached (Redis), or null when the cache lost the room. One command (a batch's rooms are asked at once). */
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
  const unread = new UnreadCoalescer(deps.unreadEveryMs ?? 300, (list) => events.usersQuietly('unread', list));

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
    const targeted: Array<{ roomId: string; list: ChatMessage[]; room: RoomCounts; targets: string[] }> = [];
    for (const [roomId, list] of byRoom) {
      const targets = (members.get(roomId) ?? []).filter((u) => online.has(u));
      let room = rooms.get(roomId);
      if (room) rooms.delete(roomId); // re-inserted below: most recently used last
      room ??= { partition, members: new Map() };
      rooms.set(roomId, room);
      // Offline members are not counted here: their counts are rebuilt when they are next online.
      for (const userId of room.members.keys()) if (!online.has(userId)) room.members.delete(userId);
      if (targets.length > 0) targeted.push({ roomId, list, room, targets });
    }
    // Every room's positions asked in the same turn: one pipelined round trip, not one per room.
    const positionsOf = await Promise.all(
      targeted.map(async ({ roomId, targets }) => {
        const cached = await deps.cachedPositions(roomId).catch(() => null);
        return cached && targets.every((u) => cached.has(u)) ? cached : deps.positions(roomId);
      }),
    );
    const updates: Array<{ roomId: string; room: RoomCounts; userId: string; list: ChatMessage[]; readSeq: bigint; base: number | null }> = [];
    targeted.forEach(({ roomId, list, room, targets }, i) => {
      for (const userId of targets) {
        const readSeq = BigInt(positionsOf[i]!.get(userId) ?? '0');
        const known = room.members.get(userId);
        updates.push({ roomId, room, userId, list, readSeq, base: known && known.readSeq === readSeq ? known.count : null });
      }
    });
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
        u.room.members.set(u.userId, { count, readSeq: u.readSeq });
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
