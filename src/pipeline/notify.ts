// The notify consumer group: for members with no live session anywhere, a notification row
// (GET /api/notifications), idempotent on (user, message).
import type { Presence } from '../counters/presence.js';
import type { Store } from '../store/store.js';
import type { BatchHandler } from './message-log.js';
import { decodeChatRecord } from './records.js';

export const NOTIFY_GROUP = 'chat-notify';

export function notifyHandler(store: Pick<Store, 'memberIds' | 'insertNotifications'>, presence: Presence): BatchHandler {
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
  };
}
