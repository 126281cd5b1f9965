// The caller, and finding people to talk to.
import type { FastifyInstance } from 'fastify';
import { userOf, type HttpDeps } from '../server.js';
import { parse, schemas } from '../validation.js';

export function registerUserRoutes(app: FastifyInstance, deps: Pick<HttpDeps, 'store' | 'ops'>): void {
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
}
