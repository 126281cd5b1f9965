// zod at the REST edge: a bad body, query or path is a 400 that names the failing field.
import { z } from 'zod';
import { firstIssue, idSchema, seqSchema, storableText } from '../chat/input.js';
import { appError } from '../shared/errors.js';

export function parse<T extends z.ZodType>(schema: T, input: unknown, where: 'body' | 'query' | 'params'): z.output<T> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const [field, message] = firstIssue(result.error, where);
  throw appError('invalid-request', message, field);
}

export const schemas = {
  signup: z.strictObject({
    email: z.email().max(254),
    password: storableText().min(8).max(256),
    nickname: storableText().trim().min(1).max(50),
  }),
  login: z.strictObject({ email: storableText().min(1).max(254), password: storableText().min(1).max(256) }),
  createRoom: z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('DIRECT'), peerUserId: idSchema }),
    z.strictObject({
      type: z.literal('GROUP'),
      name: storableText().trim().min(1).max(100),
      memberIds: z.array(idSchema).max(1000).optional(),
      visibility: z.enum(['private', 'public']).default('private'),
    }),
  ]),
  roomParams: z.strictObject({ id: idSchema }),
  userParams: z.strictObject({ id: idSchema }),
  roomList: z.strictObject({
    limit: z.coerce.number().int().min(1).max(500).default(100),
    after: idSchema.optional(),
  }),
  invite: z.strictObject({ userId: idSchema }),
  history: z
    .strictObject({
      limit: z.coerce.number().int().min(1).max(100).default(50),
      before: seqSchema.optional(),
      afterSeq: seqSchema.optional(),
    })
    .refine((q) => q.before === undefined || q.afterSeq === undefined, { message: 'use before or afterSeq, not both', path: ['afterSeq'] }),
  read: z.strictObject({ seq: seqSchema }),
  userSearch: z.strictObject({ q: storableText().trim().min(1).max(254), limit: z.coerce.number().int().min(1).max(50).default(20) }),
  notifications: z.strictObject({ limit: z.coerce.number().int().min(1).max(100).default(50) }),
};
