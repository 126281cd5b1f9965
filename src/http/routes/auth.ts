// Sign-up and log-in (throttled in auth/accounts.ts).
import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../deps.js';
import { parse, schemas } from '../validation.js';

export function registerAuthRoutes(app: FastifyInstance, deps: Pick<HttpDeps, 'accounts'>): void {
  app.post('/api/auth/signup', async (req, reply) => {
    const body = parse(schemas.signup, req.body, 'body');
    return reply.status(201).send(await deps.accounts.signup(body, req.ip));
  });

  app.post('/api/auth/login', async (req) => {
    const body = parse(schemas.login, req.body, 'body');
    return deps.accounts.login(body, req.ip);
  });
}
