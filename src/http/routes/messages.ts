// Messages: send, history, read positions, offline notifications.
import type { FastifyInstance } from 'fastify';
import { AppError, appError } from '../../shared/errors.js';
import { userOf, type HttpDeps } from '../deps.js';
import { parse, schemas } from '../validation.js';

export function registerMessageRoutes(
  app: FastifyInstance,
  deps: Pick<HttpDeps, 'messages' | 'reads' | 'store' | 'metrics' | 'userSends' | 'restSendsInFlight' | 'sendSchema' | 'replayBudget'>,
): void {
  const auth = { config: { auth: true } };
  const inFlight = new Map<string, number>();

  /** The user's send budget (shared with STOMP, cluster-wide) and a cap on REST sends in flight at once. */
  const throttle = (userId: string) => {
    if (!deps.userSends.tryTake(userId)) throw appError('rate-limited', 'too many requests; slow down');
  };

  app.post('/api/rooms/:id/messages', auth, async (req, reply) => {
    const user = userOf(req);
    const { id } = parse(schemas.roomParams, req.params, 'params');
    const body = parse(deps.sendSchema, req.body, 'body');
    throttle(user.id);
    const n = inFlight.get(user.id) ?? 0;
    if (n >= deps.restSendsInFlight) throw appError('rate-limited', `at most ${deps.restSendsInFlight} sends in flight per user; slow down`);
    inFlight.set(user.id, n + 1);
    try {
      const { message, duplicate } = await deps.messages.sendView(user, id, body);
      deps.metrics.messagesSent.inc({ via: 'rest' });
      return reply.status(202).send(duplicate ? { message, duplicate } : { message });
    } catch (err) {
      // REST speaks invalid-request for bad input; STOMP's invalid-message is the same condition.
      if (err instanceof AppError && err.code === 'invalid-message') throw appError('invalid-request', err.message, err.field ?? 'content');
      throw err;
    } finally {
      const left = (inFlight.get(user.id) ?? 1) - 1;
      if (left <= 0) inFlight.delete(user.id);
      else inFlight.set(user.id, left);
    }
  });

  // History pages (afterSeq catch-ups and older pages alike) draw from the user's replay budget: 429 once it is
  // used up, and each page is charged what it returned.
  app.get('/api/rooms/:id/messages', auth, async (req) => {
    const user = userOf(req);
    const { id } = parse(schemas.roomParams, req.params, 'params');
    const q = parse(schemas.history, req.query, 'query');
    await deps.replayBudget.admit(user.id);
    const page = await deps.messages.history(user, id, { limit: q.limit, before: q.before ?? null, afterSeq: q.afterSeq ?? null });
    await deps.replayBudget.charge(user.id, page.messages.length);
    return page;
  });

  app.post('/api/rooms/:id/read', auth, async (req) => {
    const user = userOf(req);
    const { id } = parse(schemas.roomParams, req.params, 'params');
    const body = parse(schemas.read, req.body, 'body');
    throttle(user.id);
    return deps.reads.markRead(user, id, body.seq);
  });

  app.get('/api/notifications', auth, async (req) => {
    const q = parse(schemas.notifications, req.query, 'query');
    return { notifications: await deps.store.listNotifications(userOf(req).id, q.limit) };
  });
}
