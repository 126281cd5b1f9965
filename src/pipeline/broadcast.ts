// The broadcast consumer group: chat.messages -> one Redis Pub/Sub channel per room -> every instance.
// Each publish carries the room's previous broadcast seq (kept in Redis, updated atomically with the
// publish) so gateways can detect a message the at-most-once bus lost and repair it from the store.
import type { Redis } from 'ioredis';
import type { Store } from '../store/store.js';
import { channels, lastSeqKey } from '../fanout/fanout.js';
import { toView } from '../chat/model.js';
import type { BatchHandler } from './message-log.js';
import { decodeChatRecord } from './records.js';

// KEYS: last-seq key, channel. ARGV: seq, payload JSON (an object; prevSeq is spliced in front),
// this process's own memory of the room's last seq (used when Redis lost the key in a restart).
const PUBLISH_WITH_PREV = `
local prev = redis.call('GET', KEYS[1]) or ARGV[3]
if prev == '' then prev = false end
if (not prev) or tonumber(ARGV[1]) > tonumber(prev) then redis.call('SET', KEYS[1], ARGV[1]) end
redis.call('PUBLISH', KEYS[2], '{"prevSeq":"' .. (prev or '0') .. '",' .. string.sub(ARGV[2], 2))
return 1`;

export const BROADCAST_GROUP = 'chat-broadcast';

/** Header the dead-letter tool sets on records it re-publishes (scripts/dlt.ts). */
export const REPLAYED_HEADER = 'x-replayed-from-dlt-offset';

export function broadcastHandler(redis: Redis, store: Pick<Store, 'memberIds' | 'storedSeqs'>): BatchHandler {
  redis.defineCommand('chatPublishWithPrev', { numberOfKeys: 2, lua: PUBLISH_WITH_PREV });
  // After a Redis restart the last-seq keys are gone; this memory keeps the prevSeq chain intact so
  // gateways still see (and repair) the gap left by messages their subscriber connection missed.
  const lastPublished = new Map<string, string>();
  return async (records) => {
    let messages = records.map(decodeChatRecord);
    // A replayed dead letter whose message is already stored (under its original seq) must not
    // reach live subscribers a second time under the replay's new seq.
    const replayed = messages.filter((_, i) => records[i]!.headers[REPLAYED_HEADER] !== undefined);
    if (replayed.length > 0) {
      const stored = await store.storedSeqs(replayed.map((m) => m.id));
      messages = messages.filter((m) => (stored.get(m.id) ?? m.seq) === m.seq);
    }
    const rooms = [...new Set(messages.map((m) => m.roomId))];
    const members = await store.memberIds(rooms);
    const pipe = redis.pipeline();
    for (const m of messages) {
      const list = members.get(m.roomId) ?? [];
      // A new message is unread by every member but its sender.
      const unread = list.length - (list.includes(m.senderId) ? 1 : 0);
      const payload = JSON.stringify({ message: toView(m, unread) });
      (pipe as unknown as { chatPublishWithPrev(...a: string[]): void }).chatPublishWithPrev(
        lastSeqKey(m.roomId),
        channels.room(m.roomId),
        m.seq,
        payload,
        lastPublished.get(m.roomId) ?? '',
      );
    }
    const res = (await pipe.exec()) ?? [];
    const failed = res.find(([err]) => err);
    if (failed) throw failed[0];
    if (lastPublished.size > 100_000) lastPublished.clear();
    for (const m of messages) {
      const prev = lastPublished.get(m.roomId);
      if (!prev || BigInt(m.seq) > BigInt(prev)) lastPublished.set(m.roomId, m.seq);
    }
  };
}
