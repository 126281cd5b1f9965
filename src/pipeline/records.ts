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

export function decodeChatRecord(record: ConsumedRecord): ChatMessage {
  let json: unknown;
  try {
    json = JSON.parse(record.value?.toString('utf8') ?? '');
  } catch (err) {
    throw new PoisonRecordError(`record ${record.partition}/${record.offset} is not JSON`, { cause: err });
  }
  const parsed = recordSchema.safeParse(json);
  if (!parsed.success) {
    throw new PoisonRecordError(`record ${record.partition}/${record.offset} is not a chat message: ${z.prettifyError(parsed.error)}`);
  }
  return { ...parsed.data, seq: seqFromOffset(record.offset), partition: record.partition, offset: record.offset };
}
