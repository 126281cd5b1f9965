// Decoding chat.messages records: a record that does not decode is poison (dead-lettered, never retried forever).
import { z } from 'zod';
import type { ChatMessage } from '../shared/model.js';
import { seqFromOffset } from '../shared/model.js';
import type { ConsumedRecord } from './message-log.js';

const id = z.string().regex(/^\d{1,19}$/);
const recordSchema = z.object({
  id: z.uuid(),
  roomId: id,
  senderId: id,
  type: z.enum(['TEXT', 'IMAGE', 'SYSTEM']),
  content: z.string().min(1),
  idempotencyKey: z.string().max(128).nullable(),
  createdAt: z.iso.datetime(),
});

export class PoisonRecordError extends Error {
  override readonly name = 'PoisonRecordError';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ID = /^\d{1,19}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const TYPES = new Set(['TEXT', 'IMAGE', 'SYSTEM']);

/** The schema's rules, checked by hand: every consumer group decodes every record, so this is a hot path. */
function isChatRecord(v: unknown): v is z.infer<typeof recordSchema> {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.id === 'string' &&
    UUID.test(r.id) &&
    typeof r.roomId === 'string' &&
    ID.test(r.roomId) &&
    typeof r.senderId === 'string' &&
    ID.test(r.senderId) &&
    typeof r.type === 'string' &&
    TYPES.has(r.type) &&
    typeof r.content === 'string' &&
    r.content.length > 0 &&
    (r.idempotencyKey === null || (typeof r.idempotencyKey === 'string' && r.idempotencyKey.length <= 128)) &&
    typeof r.createdAt === 'string' &&
    ISO.test(r.createdAt)
  );
}

export function decodeChatRecord(record: ConsumedRecord): ChatMessage {
  let json: unknown;
  try {
    json = JSON.parse(record.value?.toString('utf8') ?? '');
  } catch (err) {
    throw new PoisonRecordError(`record ${record.partition}/${record.offset} is not JSON`, { cause: err });
  }
  if (isChatRecord(json)) {
    const m = json;
    return {
      id: m.id,
      roomId: m.roomId,
      senderId: m.senderId,
      type: m.type,
      content: m.content,
      idempotencyKey: m.idempotencyKey,
      createdAt: m.createdAt,
      seq: seqFromOffset(record.offset),
      partition: record.partition,
      offset: record.offset,
    };
  }
  // Not a chat message: zod names what is wrong (for the dead letter's x-error).
  const parsed = recordSchema.safeParse(json);
  if (!parsed.success) {
    throw new PoisonRecordError(`record ${record.partition}/${record.offset} is not a chat message: ${z.prettifyError(parsed.error)}`);
  }
  return { ...parsed.data, seq: seqFromOffset(record.offset), partition: record.partition, offset: record.offset };
}
