// zod at the REST edge: a bad body or query is a 400 that names the failing field.
import { z } from 'zod';
import { isDecimalId } from '../chat/model.js';
import { appError } from '../errors.js';

export const id = z.string().refine(isDecimalId, 'must be a decimal id within 64-bit range');
export const seq = z
  .union([z.string(), z.number().int()])
  .transform(String)
  .pipe(z.string().refine(isDecimalId, 'must be a decimal seq within 64-bit range'));
/** Text that PostgreSQL can store: no U+0000. */
const text = () => z.string().refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');

export function parse<T extends z.ZodType>(schema: T, input: unknown, where: 'body' | 'query' | 'params'): z.output<T> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field =
    issue.code === 'unrecognized_keys' ? issue.keys.join(',') : issue.path.length > 0 ? issue.path.join('.') : where;
  throw appError('invalid-request', `${field}: ${issue.message}`, field);
}

export const schemas = {
  signup: z.strictObject({
    email: z.email().max(254),
    password: text().min(8).max(256),
    nickname: text().trim().min(1).max(50),
  }),
  login: z.strictObject({ email: text().min(1).max(254), password: text().min(1).max(256) }),
  createRoom: z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('DIRECT'), peerUserId: id }),
    z.strictObject({ type: z.literal('GROUP'), name: text().trim().min(1).max(100), memberIds: z.array(id).max(1000).optional() }),
  ]),
  roomParams: z.strictObject({ id }),
  sendMessage: z.strictObject({
    content: z.string().min(1),
    type: z.enum(['TEXT', 'IMAGE']).optional(),
    idempotencyKey: text().min(1).max(128).optional(),
  }),
  history: z
    .strictObject({
      limit: z.coerce.number().int().min(1).max(100).default(50),
      before: seq.optional(),
      afterSeq: seq.optional(),
    })
    .refine((q) => q.before === undefined || q.afterSeq === undefined, { message: 'use before or afterSeq, not both', path: ['afterSeq'] }),
  read: z.strictObject({ seq }),
  userSearch: z.strictObject({ q: text().trim().min(1).max(254), limit: z.coerce.number().int().min(1).max(50).default(20) }),
  notifications: z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(50) }),
};
