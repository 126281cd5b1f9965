// Failed webhook deliveries for operators (the operations console's API calls this): list them, retry one or a
// selection (they go out again under the same delivery id, with a fresh give-up clock), or discard them. Works
// on any instance, whatever its roles: the state is in the store, and the workers of the `notify` instances pick
// retried deliveries up. Every action is logged as an audit line with who did it.
import type { Logger } from 'pino';
import { z } from 'zod';
import { appError } from '../shared/errors.js';
import type { FailedDelivery, WebhookOutbox } from './outbox.js';

/** Most ids one retry or discard takes; most rows one page lists. */
export const MAX_SELECTION = 500;

const idsSchema = z.array(z.uuid()).min(1).max(MAX_SELECTION);
const pageSchema = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_SELECTION).default(100),
  before: z
    .string()
    .regex(/^\d{1,20}:[0-9a-f-]{36}$/, 'a nextCursor of a previous page')
    .nullish(),
});

export interface FailedPage {
  deliveries: FailedDelivery[];
  /** Failed deliveries in all (of this deployment). */
  total: number;
  /** Pass as `before` for the next page; null on the last one. */
  nextCursor: string | null;
}

export class WebhookDeliveries {
  constructor(
    private readonly outbox: Pick<
      WebhookOutbox,
      'listFailedWebhookDeliveries' | 'countFailedWebhookDeliveries' | 'retryWebhookDeliveries' | 'discardWebhookDeliveries'
    >,
    private readonly scope: string,
    private readonly log: Logger,
  ) {}

  /** How many failed deliveries wait for an operator (for an overview). */
  failedCount(): Promise<number> {
    return this.outbox.countFailedWebhookDeliveries(this.scope);
  }

  /** Most recently failed first. Throws AppError `invalid-request` naming `limit` or `before`. */
  async listFailed(query: { limit?: unknown; before?: unknown } = {}): Promise<FailedPage> {
    const page = parse(pageSchema, query);
    const [list, total] = await Promise.all([this.outbox.listFailedWebhookDeliveries(this.scope, page), this.outbox.countFailedWebhookDeliveries(this.scope)]);
    return { ...list, total };
  }

  /**
   * Failed deliveries due again now, under the same delivery ids, with a fresh give-up clock. `notFound`: ids that
   * are not failed deliveries (any more). Throws AppError `invalid-request` (field `ids`) unless 1..500 UUIDs.
   */
  async retry(ids: unknown, actor: string): Promise<{ retried: string[]; notFound: string[] }> {
    const wanted = parse(idsSchema, ids, 'ids');
    const retried = await this.outbox.retryWebhookDeliveries(this.scope, wanted);
    this.log.info({ audit: 'webhook-retry', actor, ids: retried }, 'failed webhook deliveries retried');
    return { retried, notFound: wanted.filter((id) => !retried.includes(id)) };
  }

  /** Failed deliveries deleted for good (their messages stay in history and in GET /api/notifications). */
  async discard(ids: unknown, actor: string): Promise<{ discarded: string[]; notFound: string[] }> {
    const wanted = parse(idsSchema, ids, 'ids');
    const discarded = await this.outbox.discardWebhookDeliveries(this.scope, wanted);
    this.log.info({ audit: 'webhook-discard', actor, ids: discarded }, 'failed webhook deliveries discarded');
    return { discarded, notFound: wanted.filter((id) => !discarded.includes(id)) };
  }
}

function parse<T>(schema: z.ZodType<T>, input: unknown, field?: string): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const name = field ?? String(issue.path[0] ?? 'input');
  throw appError('invalid-request', `${name}: ${issue.message}`, name);
}
