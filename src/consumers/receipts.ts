// The receipts consumer group: chat.read-receipts -> PostgreSQL (forward-only positions and the
// member's unread count) and a max-merge back into Redis (repairs positions after a Redis restart).
import { z } from 'zod';
import type { ReadPositions } from '../counters/read-positions.js';
import type { Store } from '../store/store.js';
import type { BatchHandler } from '../log/message-log.js';
import { PoisonRecordError } from '../log/records.js';

export const RECEIPTS_GROUP = 'chat-receipts';

const receiptSchema = z.object({ roomId: z.string().regex(/^\d+$/), userId: z.string().regex(/^\d+$/), seq: z.string().regex(/^\d+$/) });

export function receiptsHandler(store: Store, positions: ReadPositions): BatchHandler {
  return async (records) => {
    // Only the highest position per (room, user) of the batch matters.
    const latest = new Map<string, z.infer<typeof receiptSchema>>();
    for (const r of records) {
      let parsed;
      try {
        parsed = receiptSchema.parse(JSON.parse(r.value?.toString() ?? ''));
      } catch (err) {
        throw new PoisonRecordError(`read receipt ${r.partition}/${r.offset} is malformed`, { cause: err });
      }
      const key = `${parsed.roomId}:${parsed.userId}`;
      const prev = latest.get(key);
      if (!prev || BigInt(parsed.seq) > BigInt(prev.seq)) latest.set(key, parsed);
    }
    const items = [...latest.values()];
    const counts = await store.countUnread(items.map((i) => ({ roomId: i.roomId, userId: i.userId, afterSeq: i.seq })));
    for (const [i, item] of items.entries()) await store.advanceReadSeq(item.roomId, item.userId, item.seq, counts[i] ?? 0);
    const byRoom = new Map<string, Map<string, string>>();
    for (const i of items) {
      const m = byRoom.get(i.roomId) ?? new Map<string, string>();
      m.set(i.userId, i.seq);
      byRoom.set(i.roomId, m);
    }
    // Merge only into rooms Redis still holds: a lost room is reloaded from PostgreSQL (now updated) on demand.
    for (const [roomId, m] of byRoom) {
      if ((await positions.get(roomId)) !== null) await positions.load(roomId, m);
    }
  };
}
