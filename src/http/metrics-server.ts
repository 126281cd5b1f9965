// /metrics on a port of its own (METRICS_PORT, bound to METRICS_HOST: loopback unless said otherwise), so that a
// production deployment does not show its instance id, Node version, heap, file descriptors and per-status HTTP
// counts next to /api and /ws. Plain node:http: one route, nothing to parse, the same token rule as the public port.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** Whether an `Authorization` header carries the metrics token (always, when no token is configured). */
export function metricsAuthorizer(token: string | null): (authorization: string | undefined) => boolean {
  const expected = token === null ? null : Buffer.from(`Bearer ${token}`);
  return (header) => {
    if (!expected) return true;
    const given = Buffer.from(header ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  port: number;
  host: string;
  registry: Pick<Registry, 'metrics' | 'contentType'>;
  token: string | null;
  /** A request (headers and all) must arrive within this; idle sockets close after the keep-alive timeout. */
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify({ error: { code, message } }));
}

export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const authorized = metricsAuthorizer(opts.token);
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') return fail(res, 404, 'not-found', `no route for ${req.method} ${path}`);
    if (!authorized(req.headers.authorization)) return fail(res, 401, 'unauthorized', 'metrics need the METRICS_TOKEN bearer token');
    opts.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
      () => fail(res, 500, 'internal-error', 'internal error'),
    );
  });
  server.requestTimeout = opts.requestTimeoutMs;
  server.headersTimeout = opts.requestTimeoutMs;
  server.keepAliveTimeout = opts.keepAliveTimeoutMs;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
