// The notify consumer group: for members with no live session anywhere, a notification row
// (GET /api/notifications), idempotent on (user, message); for members who are online, a fresh
// `unread` count on their notification queue.
import type { EventPublisher } from '../chat/ports.js';
import type { Presence } from '../counters/presence.js';
import type { Store } from '../store/store.js';
import type { BatchHandler } from './message-log.js';
import { decodeChatRecord } from './records.js';

export const NOTIFY_GROUP = 'chat-notify';

export interface NotifyDeps {
  store: Pick<Store, 'memberIds' | 'insertNotifications' | 'countUnreadBefore'>;
  presence: Presence;
  events: EventPublisher;
  /** Members' read positions in a room (Redis, falling back to PostgreSQL). */
  positions(roomId: string): Promise<Map<string, string>>;
}

export function notifyHandler(deps: NotifyDeps): BatchHandler {
  const { store, presence, events } = deps;
  return async (records) => {
    const messages = records.map(decodeChatRecord);
    const members = await store.memberIds([...new Set(messages.map((m) => m.roomId))]);
    const everyone = [...new Set([...members.values()].flat())];
    const online = await presence.onlineUsers(everyone);
    const rows = [];
    for (const m of messages) {
      for (const userId of members.get(m.roomId) ?? []) {
        if (userId === m.senderId || online.has(userId)) continue;
        rows.push({ userId, roomId: m.roomId, messageId: m.id, seq: m.seq, senderId: m.senderId, preview: m.content.slice(0, 100) });
      }
    }
    await store.insertNotifications(rows);

    // Unread = stored messages before this batch + this batch's own (the persist group may not
    // have stored the batch yet; this group never writes messages, so killing persist proves persist).
    const items: Array<{ roomId: string; userId: string; afterSeq: string; extra: number }> = [];
    for (const roomId of new Set(messages.map((m) => m.roomId))) {
      const inRoom = messages.filter((m) => m.roomId === roomId);
      const targets = (members.get(roomId) ?? []).filter((u) => online.has(u));
      if (targets.length === 0) continue;
      const positions = await deps.positions(roomId);
      for (const userId of targets) {
        const pos = BigInt(positions.get(userId) ?? '0');
        const extra = inRoom.filter((m) => m.senderId !== userId && BigInt(m.seq) > pos).length;
        if (extra === 0) continue; // nothing new for this member (their own messages)
        items.push({ roomId, userId, afterSeq: positions.get(userId) ?? '0', extra });
      }
    }
    const before = await store.countUnreadBefore(items.map((it) => ({ ...it, beforeSeq: messages.find((m) => m.roomId === it.roomId)!.seq })));
    const counts = items.map((it, i) => (before[i] ?? 0) + it.extra);
    // Ephemeral: a lost update is corrected by the next one or by GET /api/rooms.
    await Promise.allSettled(items.map((it, i) => events.userEvent(it.userId, 'unread', { roomId: it.roomId, unreadCount: counts[i] ?? 0 })));
  };
}
