// REST API (fastify) on the HTTP server that also carries /ws, /metrics, /healthz and /readyz.
import { withTimeout } from '../timeout.js';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Authenticator } from '../auth/authenticate.js';
import { DUMMY_HASH_PROMISE, hashPassword, verifyPassword } from '../auth/password.js';
import type { TokenService } from '../auth/tokens.js';
import type { User } from '../chat/model.js';
import type { ChatService } from '../chat/service.js';
import { AppError, appError } from '../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import { isTransientError } from '../pipeline/transient.js';
import type { Store } from '../store/store.js';
import { parse, schemas } from './validation.js';
import { registerWebClient } from './web.js';

export interface ReadApi {
  markRead(user: User, roomId: string, seq: string): Promise<{ lastReadSeq: string; unreadCount: number }>;
  /** Per room unread counts for the caller (GET /api/rooms). */
  unreadForRooms?(user: User, rooms: ReadonlyArray<{ id: string; lastReadSeq: string }>): Promise<Map<string, number>>;
}

export interface HttpDeps {
  log: Logger;
  store: Store;
  chat: ChatService;
  tokens: TokenService;
  authenticate: Authenticator;
  metrics: Metrics;
  reads: ReadApi;
  /** Per-user token bucket shared with the STOMP gateway: sends and reads over REST count too. */
  userBucket(userId: string): { take(): boolean };
  /** Each dependency's health check, for /readyz. */
  readiness: Record<string, () => Promise<void>>;
  bodyLimit?: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    user?: User;
  }
}

export async function buildHttp(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // Request/response lines are counted by a metric, not logged: only warnings and errors are logged.
    loggerInstance: deps.log.child({ component: 'http' }, { level: 'warn' }) as unknown as FastifyBaseLogger,
    bodyLimit: deps.bodyLimit ?? 64 * 1024,
    // Our own JSON parser below validates UTF-8 first.
  });

  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    if (body.length === 0) return done(null, undefined);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      return done(appError('invalid-request', 'body is not valid UTF-8', 'body'), undefined);
    }
    try {
      done(null, JSON.parse(text));
    } catch {
      done(appError('invalid-request', 'body is not valid JSON', 'body'), undefined);
    }
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof AppError) {
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
  app.addHook('onResponse', async (req, reply) => {
    deps.metrics.httpRequests.inc({ method: req.method, status: String(reply.statusCode) });
  });

  const limited = (user: User) => {
    if (!deps.userBucket(user.id).take()) throw appError('rate-limited', 'too many requests; slow down');
  };

  const auth = async (req: FastifyRequest): Promise<User> => {
    const header = req.headers.authorization;
    const token = header && /^Bearer\s+(.+)$/i.exec(header)?.[1];
    if (!token) throw appError('unauthorized', 'missing bearer token');
    req.user = await deps.authenticate(token);
    return req.user;
  };

  await registerWebClient(app);

  // --- health ---------------------------------------------------------------------------------
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const checks: Record<string, string> = {};
    await Promise.all(
      Object.entries(deps.readiness).map(async ([name, check]) => {
        try {
          await withTimeout(check(), 2000);
          checks[name] = 'ok';
        } catch (err) {
          checks[name] = `unavailable: ${(err as Error).message}`;
        }
      }),
    );
    const ok = Object.values(checks).every((v) => v === 'ok');
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not-ready', checks });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  // --- auth -----------------------------------------------------------------------------------
  app.post('/api/auth/signup', async (req, reply) => {
    const body = parse(schemas.signup, req.body, 'body');
    const user = await deps.store.createUser({
      email: body.email,
      nickname: body.nickname,
      passwordHash: await hashPassword(body.password),
    });
    return reply.status(201).send({ user, accessToken: deps.tokens.issue(user.id) });
  });

  app.post('/api/auth/login', async (req) => {
    const body = parse(schemas.login, req.body, 'body');
    const found = await deps.store.findUserByEmail(body.email);
    // Verify against a dummy hash when the user is unknown: same work, same timing.
    const ok = await verifyPassword(body.password, found && !found.deletedAt ? found.passwordHash : await DUMMY_HASH_PROMISE);
    if (!found || found.deletedAt || !ok) throw appError('invalid-credentials', 'wrong email or password');
    const { passwordHash: _h, deletedAt: _d, ...user } = found;
    return { user, accessToken: deps.tokens.issue(user.id) };
  });

  app.get('/api/users/me', async (req) => {
    const user = await auth(req);
    return { id: user.id, email: user.email, nickname: user.nickname, status: user.status, lastSeenAt: user.lastSeenAt };
  });

  // Find people to talk to: an exact email, or a nickname prefix. Emails are shown only to whoever typed them.
  app.get('/api/users', async (req) => {
    await auth(req);
    const q = parse(schemas.userSearch, req.query, 'query');
    const found = await deps.store.searchUsers(q.q, q.limit);
    const byEmail = q.q.toLowerCase();
    return { users: found.map((u) => ({ id: u.id, nickname: u.nickname, ...(u.email.toLowerCase() === byEmail ? { email: u.email } : {}) })) };
  });

  // --- rooms ----------------------------------------------------------------------------------
  app.post('/api/rooms', async (req, reply) => {
    const user = await auth(req);
    const body = parse(schemas.createRoom, req.body, 'body');
    if (body.type === 'DIRECT') {
      const { room, created } = await deps.chat.createDirect(user, body.peerUserId);
      return reply.status(created ? 201 : 200).send(room);
    }
    return reply.status(201).send(await deps.chat.createGroup(user, body.name, body.memberIds ?? []));
  });

  app.get('/api/rooms', async (req) => {
    const user = await auth(req);
    const rooms = await deps.store.listRoomsForUser(user.id);
    const unread = deps.reads.unreadForRooms ? await deps.reads.unreadForRooms(user, rooms) : new Map<string, number>();
    const views = await Promise.all(
      rooms.map(async (r) => ({
        id: r.id,
        name: r.name,
        type: r.type,
        members: r.members,
        createdAt: r.createdAt,
        unreadCount: unread.get(r.id) ?? 0,
        lastMessage: r.lastMessage ? await deps.chat.view(r.lastMessage) : null,
      })),
    );
    return { rooms: views };
  });

  app.get('/api/rooms/:id', async (req) => {
    const user = await auth(req);
    const { id } = parse(schemas.roomParams, req.params, 'params');
    return deps.chat.getRoom(user, id);
  });

  app.post('/api/rooms/:id/join', async (req) => {
    const user = await auth(req);
    const { id } = parse(schemas.roomParams, req.params, 'params');
    return deps.chat.join(user, id);
  });

  app.post('/api/rooms/:id/leave', async (req) => {
    const user = await auth(req);
    const { id } = parse(schemas.roomParams, req.params, 'params');
    await deps.chat.leave(user, id);
    return { left: true };
  });

  // --- messages -------------------------------------------------------------------------------
  app.post('/api/rooms/:id/messages', async (req, reply) => {
    const user = await auth(req);
    const { id } = parse(schemas.roomParams, req.params, 'params');
    const body = parse(schemas.sendMessage, req.body, 'body');
    limited(user);
    try {
      const { message } = await deps.chat.send(user, id, body);
      deps.metrics.messagesSent.inc({ via: 'rest' });
      return reply.status(202).send({ message });
    } catch (err) {
      // REST speaks invalid-request for bad input; STOMP's invalid-message is the same condition.
      if (err instanceof AppError && err.code === 'invalid-message') throw appError('invalid-request', err.message, err.field ?? 'content');
      throw err;
    }
  });

  app.get('/api/rooms/:id/messages', async (req) => {
    const user = await auth(req);
    const { id } = parse(schemas.roomParams, req.params, 'params');
    const q = parse(schemas.history, req.query, 'query');
    return deps.chat.history(user, id, { limit: q.limit, before: q.before ?? null, afterSeq: q.afterSeq ?? null });
  });

  app.post('/api/rooms/:id/read', async (req) => {
    const user = await auth(req);
    const { id } = parse(schemas.roomParams, req.params, 'params');
    const body = parse(schemas.read, req.body, 'body');
    limited(user);
    return deps.reads.markRead(user, id, body.seq);
  });

  app.get('/api/notifications', async (req) => {
    const user = await auth(req);
    const q = parse(schemas.notifications, req.query, 'query');
    return { notifications: await deps.store.listNotifications(user.id, q.limit) };
  });

  return app;
}

