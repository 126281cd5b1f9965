// Input rules shared by every edge (REST bodies, STOMP SEND bodies and headers): zod schemas, written once.
import { z } from 'zod';
import { isCanonicalId, isDecimalId } from '../shared/model.js';

/** A user or room id: canonical decimal (no leading zeros), within bigint. */
export const idSchema = z.string().refine(isCanonicalId, 'must be a decimal id without leading zeros, within 64-bit range');

/** A seq: a decimal within bigint, as a string or an integer; "0" means "from the start". */
export const seqSchema = z
  .union([z.string(), z.number().int().nonnegative()])
  .transform(String)
  .pipe(z.string().refine(isDecimalId, 'must be a non-negative decimal seq within 64-bit range'))
  .transform((s) => BigInt(s).toString());

/** Text PostgreSQL can store: no U+0000. */
export const storableText = () => z.string().refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');

// Unpaired UTF-16 surrogates cannot be encoded as UTF-8: such text would not survive storage intact.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The fields of a send, from a REST body or a STOMP SEND. `maxContentBytes` is a UTF-8 byte limit. */
export function sendSchema(maxContentBytes: number) {
  return z.strictObject({
    content: z
      .string()
      .min(1, 'content is empty')
      .refine((s) => Buffer.byteLength(s, 'utf8') <= maxContentBytes, `content is larger than ${maxContentBytes} bytes of UTF-8`)
      .refine((s) => !LONE_SURROGATE.test(s), 'content is not valid Unicode text')
      // Refused here, before Kafka acknowledges something PostgreSQL could never store.
      .refine((s) => !s.includes('\u0000'), 'content must not contain NUL characters'),
    type: z.enum(['TEXT', 'IMAGE']).default('TEXT'),
    idempotencyKey: storableText().min(1).max(128).nullable().default(null),
  });
}

export type SendInput = z.output<ReturnType<typeof sendSchema>>;

/** The first issue of a failed parse as `[field, message]` (the field is what clients are told to fix). */
export function firstIssue(error: z.ZodError, where: string): [string, string] {
  const issue = error.issues[0]!;
  const field = issue.code === 'unrecognized_keys' ? issue.keys.join(',') : issue.path.length > 0 ? issue.path.join('.') : where;
  return [field, `${field}: ${issue.message}`];
}
