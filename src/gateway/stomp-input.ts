// SEND bodies and headers -> the same validated inputs REST gets (chat/input.ts schemas), with STOMP's errors.
import type { Frame } from '../../protocol/index.js';
import { firstIssue, seqSchema, type SendInput } from '../chat/input.js';
import { appError } from '../shared/errors.js';
import { decodeUtf8 } from '../shared/utf8.js';
import type { z } from 'zod';

/** A room SEND: text/plain body (the default) or JSON `{content, type?, idempotencyKey?}`; `idempotency-key` header. */
export function parseSend(frame: Frame, schema: z.ZodType<SendInput>): SendInput {
  const contentType = (frame.headers['content-type'] ?? 'text/plain').split(';')[0]!.trim().toLowerCase();
  const headerKey = frame.headers['idempotency-key'];
  const text = decodeUtf8(frame.body);
  if (text === null) throw appError('invalid-message', 'body is not valid UTF-8', 'body');
  let raw: unknown;
  if (contentType === 'application/json') {
    try {
      raw = JSON.parse(text);
    } catch {
      throw appError('invalid-message', 'body is not valid JSON', 'body');
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw appError('invalid-message', 'body must be a JSON object', 'body');
    if (headerKey !== undefined && (raw as Record<string, unknown>).idempotencyKey === undefined) raw = { ...raw, idempotencyKey: headerKey };
  } else {
    raw = { content: text, ...(headerKey !== undefined ? { idempotencyKey: headerKey } : {}) };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const [field, message] = firstIssue(parsed.error, 'body');
    throw appError('invalid-message', message, field);
  }
  return parsed.data;
}

/** `/app/rooms.<id>.read` body: `{"seq": "<seq>"}`. */
export function parseReadBody(frame: Frame): string {
  const text = decodeUtf8(frame.body);
  let seq: unknown;
  try {
    seq = (JSON.parse(text ?? '') as { seq?: unknown }).seq;
  } catch {
    throw appError('invalid-message', 'body must be JSON {"seq":"<seq>"}', 'body');
  }
  const parsed = seqSchema.safeParse(seq);
  if (!parsed.success) throw appError('invalid-message', 'seq must be a non-negative decimal within 64-bit range', 'seq');
  return parsed.data;
}
