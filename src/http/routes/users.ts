// The caller, finding people to talk to, and blocking people.
import type { FastifyInstance } from 'fastify';
import { userOf, type HttpDeps } from '../deps.js';
import { parse, schemas } from '../validation.js';

export function registerUserRoutes(app: FastifyInstance, deps: Pick<HttpDeps, 'store' | 'ops' | 'blocks'>): void {
  app.get('/api/users/me', { config: { auth: true } }, async (req) => {
    const user = userOf(req);
    return { id: user.id, email: user.email, nickname: user.nickname, status: user.status, lastSeenAt: user.lastSeenAt, admin: deps.ops.isAdmin(user) };
  });

  // An exact email, or a nickname prefix. Emails are shown only to whoever typed them.
  app.get('/api/users', { config: { auth: true } }, async (req) => {
    const q = parse(schemas.userSearch, req.query, 'query');
    const found = await deps.store.searchUsers(q.q, q.limit);
    const byEmail = q.q.toLowerCase();
    return { users: found.map((u) => ({ id: u.id, nickname: u.nickname, ...(u.email.toLowerCase() === byEmail ? { email: u.email } : {}) })) };
  });

  // Block and unblock: 200 and idempotent; the blocked list, newest first (bounded by MAX_BLOCKS_PER_USER).
  app.post('/api/users/:id/block', { config: { auth: true } }, async (req) => {
    const { id } = parse(schemas.userParams, req.params, 'params');
    await deps.blocks.block(userOf(req), id);
    return { userId: id, blocked: true };
  });

  app.delete('/api/users/:id/block', { config: { auth: true } }, async (req) => {
    const { id } = parse(schemas.userParams, req.params, 'params');
    await deps.blocks.unblock(userOf(req), id);
    return { userId: id, blocked: false };
  });

  app.get('/api/users/blocked', { config: { auth: true } }, async (req) => {
    const list = await deps.blocks.list(userOf(req));
    return { users: list.map((b) => ({ id: b.userId, nickname: b.nickname, blockedAt: b.blockedAt })) };
  });
}
