// The broadcast consumer group: chat.messages -> the fan-out bus, one publish per room per batch, and the rooms of
// every batch handed over in one event-loop turn (the partitions of one fetch) in one call (the bus chains each
// room's publishes with prevSeq, so gateways detect and repair what the at-most-once bus loses).
import type { MembersCache } from '../chat/members-cache.js';
import type { FanoutBus, RoomPublish } from '../fanout/fanout.js';
import { toView, type ChatMessage } from '../shared/model.js';
import { TurnBatch } from '../shared/turn-batch.js';
import type { Store } from '../store/store.js';
import { REPLAYED_HEADER } from '../log/dead-letter.js';
import type { BatchHandler } from '../log/message-log.js';
import { decodeChatRecord } from '../log/records.js';

export const BROADCAST_GROUP = 'chat-broadcast';

export function broadcastHandler(
  bus: Pick<FanoutBus, 'publishRooms'>,
  store: Pick<Store, 'storedSeqs'>,
  members: Pick<MembersCache, 'memberIds'>,
): BatchHandler {
  // A fetch wakes on every produce request, so at moderate rates each partition's batch holds a message or two of
  // one room: a call per batch would be a script call per message. A room lives in one partition, so the rooms
  // joined here are distinct. If the call fails, every batch in it fails and is retried; the bus drops what a
  // room already had, so a retry publishes nothing twice.
  const shared = new TurnBatch<readonly RoomPublish[], void>((parts) => bus.publishRooms(parts.length === 1 ? parts[0]! : parts.flat()));
  return async (records) => {
    let messages = records.map(decodeChatRecord);
    // A replayed dead letter whose message is already stored (under its original seq) must not reach live
    // subscribers a second time under the replay's new seq.
    const replayed = messages.filter((_, i) => records[i]!.headers[REPLAYED_HEADER] !== undefined);
    if (replayed.length > 0) {
      const stored = await store.storedSeqs(replayed.map((m) => m.id));
      messages = messages.filter((m) => (stored.get(m.id) ?? m.seq) === m.seq);
    }
    const byRoom = new Map<string, ChatMessage[]>();
    for (const m of messages) {
      const list = byRoom.get(m.roomId);
      if (list) list.push(m);
      else byRoom.set(m.roomId, [m]);
    }
    const memberIds = await members.memberIds([...byRoom.keys()]);
    // A new message is unread by every member but its sender.
    const rooms = [...byRoom].map(([roomId, list]) => {
      const ids = memberIds.get(roomId) ?? [];
      return { roomId, messages: list.map((m) => toView(m, ids.length - (ids.includes(m.senderId) ? 1 : 0))) };
    });
    await shared.join(rooms).result;
  };
}
