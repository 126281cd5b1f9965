// The operations console's REST API under /api/ops/: administrators only (401 without a token, 403 for anyone
// else — the `admin` route flag, see server.ts). The live view comes over STOMP (/topic/ops); these routes give the
// same overview on demand, the charts' history, the dead letters with replay and discard, and the given-up webhook
// deliveries with retry and discard — each record panel in the shape the web client's RecordTable reads
// ({records, next, pending}; actions take {records:[ref]}).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CURSOR_PATTERN } from '../../ops/dead-letters.js';
import { userOf, type HttpDeps } from '../deps.js';
import { parse } from '../validation.js';

/** Records one replay or discard may name. */
export const MAX_SELECTION = 500;

const admin = { config: { auth: true, admin: true } } as const;
const ref = z.strictObject({ partition: z.number().int().min(0).max(65_535), offset: z.string().regex(/^\d{1,19}$/, 'expected a decimal offset') });
const selection = z.strictObject({ records: z.array(ref).min(1).max(MAX_SELECTION) });
const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.string().regex(CURSOR_PATTERN, 'expected the `next` of a previous page').optional(),
  group: z.string().min(1).max(200).optional(),
  include: z.enum(['pending', 'all']).default('pending'),
});

export function registerOpsConsoleRoutes(app: FastifyInstance, ops: HttpDeps['ops']): void {
  app.get('/api/ops/overview', admin, async () => ops.monitor.overview());

  app.get('/api/ops/history', admin, async () => ({ points: ops.monitor.history() }));

  app.get('/api/ops/dead-letters', admin, async (req) => {
    const q = parse(listQuery, req.query, 'query');
    const [page, pending] = await Promise.all([ops.deadLetters.list(q), ops.deadLetters.pending()]);
    return { ...page, pending };
  });

  app.post('/api/ops/dead-letters/replay', admin, async (req) => {
    const { records } = parse(selection, req.body, 'body');
    const found = await ops.deadLetters.get(records);
    const result = await ops.deadLetters.replay(found, ops.actorOf(userOf(req)));
    return { ...result, missing: missing(records, found) };
  });

  app.post('/api/ops/dead-letters/discard', admin, async (req) => {
    const { records } = parse(selection, req.body, 'body');
    const found = await ops.deadLetters.get(records);
    const discarded = await ops.deadLetters.discard(found, ops.actorOf(userOf(req)));
    return { discarded, missing: missing(records, found) };
  });
}

const deliveryRef = z.strictObject({ id: z.uuid() });
const deliverySelection = z.strictObject({ records: z.array(deliveryRef).min(1).max(MAX_SELECTION) });
const deliveryQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.string().max(200).optional(),
  // Only failed deliveries are kept for operators: `all` lists the same (a retried one is pending again, a
  // discarded one is gone).
  include: z.enum(['pending', 'all']).default('pending'),
});

/** Offline-notification webhook deliveries that were given up (src/notifications/deliveries.ts). */
export function registerWebhookDeliveryRoutes(app: FastifyInstance, ops: HttpDeps['ops']): void {
  app.get('/api/ops/webhook-deliveries', admin, async (req) => {
    const { limit, before } = parse(deliveryQuery, req.query, 'query');
    const page = await ops.webhookDeliveries.listFailed({ limit, before });
    return { records: page.deliveries, next: page.nextCursor, pending: page.total };
  });

  app.post('/api/ops/webhook-deliveries/retry', admin, async (req) => {
    const { records } = parse(deliverySelection, req.body, 'body');
    return ops.webhookDeliveries.retry(
      records.map((r) => r.id),
      ops.actorOf(userOf(req)),
    );
  });

  app.post('/api/ops/webhook-deliveries/discard', admin, async (req) => {
    const { records } = parse(deliverySelection, req.body, 'body');
    return ops.webhookDeliveries.discard(
      records.map((r) => r.id),
      ops.actorOf(userOf(req)),
    );
  });
}

/** The requested records that are not in the topic (never written, or gone with retention). */
function missing(asked: ReadonlyArray<{ partition: number; offset: string }>, found: ReadonlyArray<{ partition: number; offset: string }>) {
  const have = new Set(found.map((r) => `${r.partition}:${r.offset}`));
  return asked.filter((r) => !have.has(`${r.partition}:${r.offset}`));
}
