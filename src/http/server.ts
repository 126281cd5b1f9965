// The HTTP server: fastify with timeouts on every socket, one error format, bearer authentication as a route
// option, and the route modules (ops, auth, users, rooms, messages) plus the web client. Its dependencies are
// declared in deps.ts, which the routes import (never this file).
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { httpServerOptions } from '../metrics/http.js';
import { AppError, appError } from '../shared/errors.js';
import { isTransientError } from '../shared/failures.js';
import { decodeUtf8 } from '../shared/utf8.js';
import { registerAuthRoutes } from './routes/auth.js';
import { registerMessageRoutes } from './routes/messages.js';
import { registerOpsConsoleRoutes, registerWebhookDeliveryRoutes } from './routes/ops-console.js';
import { registerOpsRoutes } from './routes/ops.js';
import { registerRoomRoutes } from './routes/rooms.js';
import { registerUserRoutes } from './routes/users.js';
import type { HttpDeps } from './deps.js';
import { guardSockets } from './socket-guard.js';
import { registerWebClient } from './web.js';

export async function buildHttp(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'http' }, { level: 'warn' }) as unknown as FastifyBaseLogger,
    bodyLimit: deps.bodyLimit ?? 64 * 1024,
    // Request deadlines and the per-address socket cap are ours (guardSockets); Node's own header/request
    // timers stay off so there is one rule, and a handler may take as long as it needs (a send waits for Kafka).
    requestTimeout: 0,
    connectionTimeout: 0,
    keepAliveTimeout: deps.timeouts.keepAliveMs,
    ...httpServerOptions(),
  });
  guardSockets(app.server, { requestMs: deps.timeouts.requestMs, keepAliveMs: deps.timeouts.keepAliveMs, maxSocketsPerIp: deps.maxSocketsPerIp });
  app.server.headersTimeout = 0;

  // Our own JSON parser: strict UTF-8 first, then JSON, each failure a 400 naming the body.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    if (body.length === 0) return done(null, undefined);
    const text = decodeUtf8(body);
    if (text === null) return done(appError('invalid-request', 'body is not valid UTF-8', 'body'), undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(appError('invalid-request', 'body is not valid JSON', 'body'), undefined);
    }
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof AppError) {
      if (err.code === 'rate-limited') reply.header('retry-after', '1');
      return reply.status(err.status).send({ error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } });
    }
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.status(400).send({ error: { code: 'invalid-request', message: 'body is too large', field: 'body' } });
    }
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.status(400).send({ error: { code: 'invalid-request', message: e.message ?? 'bad request', field: 'body' } });
    }
    if (isTransientError(err)) {
      req.log.warn({ err }, 'request failed: a dependency is unavailable');
      return reply.status(503).send({ error: { code: 'server-unavailable', message: 'a dependency is unavailable; retry' } });
    }
    req.log.error({ err }, 'request failed');
    return reply.status(500).send({ error: { code: 'internal-error', message: 'internal error' } });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ error: { code: 'not-found', message: `no route for ${req.method} ${req.url.split('?')[0]}` } }),
  );

  // Bearer authentication for every route that declares `config: { auth: true }`.
  app.addHook('preHandler', async (req) => {
    if (!req.routeOptions.config?.auth) return;
    const header = req.headers.authorization;
    const token = header && /^Bearer\s+(.+)$/i.exec(header)?.[1];
    if (!token) throw appError('unauthorized', 'missing bearer token');
    req.user = (await deps.authenticate(token)).user;
    if (req.routeOptions.config.admin && !deps.ops.isAdmin(req.user)) throw appError('forbidden', 'administrators only');
  });

  for (const plugin of deps.plugins ?? []) await plugin(app);
  if (!deps.plugins?.length) {
    app.addHook('onResponse', async (req, reply) => {
      deps.metrics.httpRequests.inc({ method: req.method, status: String(reply.statusCode) });
    });
  }

  registerOpsRoutes(app, deps);
  registerAuthRoutes(app, deps);
  registerUserRoutes(app, deps);
  registerRoomRoutes(app, deps);
  registerMessageRoutes(app, deps);
  registerOpsConsoleRoutes(app, deps.ops);
  registerWebhookDeliveryRoutes(app, deps.ops);
  await registerWebClient(app);
  return app;
}
