// HTTP observability for fastify: a request id (accepted from / echoed in `x-request-id`), one access-log line
// per request at info, chat_http_requests_total{method,route,status} and chat_http_request_duration_seconds.
// Only method, route, status, duration, path and request id are logged — never headers (so never a token)
// and never the query string (a WebSocket URL may carry ?access_token=).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { LogController, type FastifyInstance, type FastifyPluginCallback, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Metrics } from './metrics.js';

export const REQUEST_ID_HEADER = 'x-request-id';
/** Route label of requests that matched no route (404s, probes): never the raw URL, which is unbounded. */
export const UNMATCHED_ROUTE = 'unmatched';
/** Routes logged at debug instead of info: scraped and probed every few seconds. */
export const QUIET_ROUTES: readonly string[] = Object.freeze(['/metrics', '/healthz', '/readyz']);

// Printable, no spaces or quotes: safe to log and to echo in a header; bounded.
const VALID_REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/**
 * fastify's genReqId: the caller's `x-request-id` when it is a sane token (≤ 128 chars of [A-Za-z0-9._:@/+=-]),
 * else a fresh UUID. Used with `requestIdHeader: false` so fastify never takes the header unchecked.
 */
export function genReqId(req: IncomingMessage): string {
  const h = req.headers[REQUEST_ID_HEADER];
  const v = Array.isArray(h) ? h[0] : h;
  return v && VALID_REQUEST_ID.test(v) ? v : randomUUID();
}

/**
 * Options to spread into `Fastify({...})`: request ids from genReqId (bound as `reqId` on req.log), and
 * fastify's own per-request log lines off (the plugin logs one line per request instead). A function:
 * each server gets its own LogController.
 */
export function httpServerOptions(): { requestIdHeader: false; genReqId: typeof genReqId; logController: LogController } {
  return {
    requestIdHeader: false,
    genReqId,
    logController: new LogController({ requestIdLogLabel: 'reqId', disableRequestLogging: true }),
  };
}

/** The access logger: anything with pino's `info`/`debug` call shape. */
export interface AccessLog {
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface HttpObservabilityOptions {
  metrics: Pick<Metrics, 'httpRequests' | 'httpDuration'>;
  log: AccessLog;
  /** Routes whose access lines go to debug (default QUIET_ROUTES). Still counted. */
  quietRoutes?: readonly string[];
}

/** The route pattern a request matched (`/api/rooms/:id`), or `unmatched`. */
export function routeOf(req: FastifyRequest): string {
  // routeOptions.url is the declared pattern; the not-found handler has none.
  const url = req.routeOptions?.url;
  return url && !req.is404 ? url : UNMATCHED_ROUTE;
}

/** Records one answered request: the two metrics and the access-log line. */
export function observe(opts: HttpObservabilityOptions, req: FastifyRequest, reply: FastifyReply): void {
  const route = routeOf(req);
  const method = req.method;
  const status = reply.statusCode;
  const durationMs = reply.elapsedTime;
  opts.metrics.httpRequests.inc({ method, route, status: String(status) });
  opts.metrics.httpDuration.observe({ method, route }, durationMs / 1000);
  const quiet = (opts.quietRoutes ?? QUIET_ROUTES).includes(route);
  const line = {
    reqId: req.id,
    method,
    route,
    path: req.url.split('?', 1)[0],
    status,
    durationMs: Math.round(durationMs * 1000) / 1000,
  };
  if (quiet) opts.log.debug(line, 'request completed');
  else opts.log.info(line, 'request completed');
}

/**
 * The fastify plugin. Registered with `app.register(httpObservability, opts)` it applies to every route of the
 * instance it is registered on (it is not encapsulated, like a fastify-plugin wrapped plugin), including
 * the not-found handler. Register it before the routes.
 */
export const httpObservability: FastifyPluginCallback<HttpObservabilityOptions> = (app: FastifyInstance, opts, done) => {
  app.addHook('onRequest', (req, reply, next) => {
    reply.header(REQUEST_ID_HEADER, req.id);
    next();
  });
  app.addHook('onResponse', (req, reply, next) => {
    observe(opts, req, reply);
    next();
  });
  done();
};
// Same switch as the fastify-plugin package: hooks added here apply to the parent instance.
Object.assign(httpObservability, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'chat-http-observability',
});

/** The plugin as a `(app) => Promise<void>` (http/server.ts' HttpDeps.plugins): `plugins: [withHttpObservability(opts)]`. */
export function withHttpObservability(opts: HttpObservabilityOptions): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    await app.register(httpObservability, opts);
  };
}
