// zod at the REST edge: a bad body or query is a 400 that names the failing field.
import { z } from 'zod';
import { appError } from '../errors.js';

export const id = z.string().regex(/^\d{1,19}$/, 'must be a decimal id');
export const seq = z.union([z.string(), z.number().int()]).transform(String).pipe(z.string().regex(/^\d{1,19}$/, 'must be a decimal seq'));

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
    password: z.string().min(8).max(256),
    nickname: z.string().trim().min(1).max(50),
  }),
  login: z.strictObject({ email: z.string().min(1).max(254), password: z.string().min(1).max(256) }),
  createRoom: z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('DIRECT'), peerUserId: id }),
    z.strictObject({ type: z.literal('GROUP'), name: z.string().trim().min(1).max(100), memberIds: z.array(id).max(1000).optional() }),
  ]),
  roomParams: z.strictObject({ id }),
  sendMessage: z.strictObject({
    content: z.string().min(1),
    type: z.enum(['TEXT', 'IMAGE']).optional(),
    idempotencyKey: z.string().min(1).max(128).optional(),
  }),
  history: z
    .strictObject({
      limit: z.coerce.number().int().min(1).max(100).default(50),
      before: seq.optional(),
      afterSeq: seq.optional(),
    })
    .refine((q) => q.before === undefined || q.afterSeq === undefined, { message: 'use before or afterSeq, not both', path: ['afterSeq'] }),
  read: z.strictObject({ seq }),
  notifications: z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(50) }),
};
