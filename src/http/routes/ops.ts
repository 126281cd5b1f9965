// Operations endpoints: liveness, readiness (cached for a second: probes must not become load), metrics (on this
// port only where the configuration allows it: see metricsOnPublicPort).
import type { FastifyInstance } from 'fastify';
import { appError } from '../../shared/errors.js';
import { withTimeout } from '../../shared/timeout.js';
import { metricsAuthorizer } from '../metrics-server.js';
import type { HttpDeps } from '../deps.js';

const READY_CACHE_MS = 1000;

export function registerOpsRoutes(app: FastifyInstance, deps: Pick<HttpDeps, 'readiness' | 'metrics' | 'metricsToken' | 'metricsOnPublicPort'>): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  interface Readiness {
    at: number;
    ok: boolean;
    checks: Record<string, string>;
  }
  let cached: Readiness | null = null;
  let running: Promise<Readiness> | null = null;
  const check = async (): Promise<Readiness> => {
    const checks: Record<string, string> = {};
    await Promise.all(
      Object.entries(deps.readiness).map(async ([name, fn]) => {
        try {
          await withTimeout(fn(), 2000);
          checks[name] = 'ok';
        } catch (err) {
          checks[name] = `unavailable: ${(err as Error).message}`;
        }
      }),
    );
    return { at: Date.now(), ok: Object.values(checks).every((v) => v === 'ok'), checks };
  };
  app.get('/readyz', async (_req, reply) => {
    if (!cached || Date.now() - cached.at > READY_CACHE_MS) {
      running ??= check().finally(() => (running = null));
      cached = await running;
    }
    const r: Readiness = cached;
    return reply.status(r.ok ? 200 : 503).send({ status: r.ok ? 'ready' : 'not-ready', checks: r.checks });
  });

  // Not served here: the path answers like any unknown one (404), not 401, so it does not even say it exists.
  if (!deps.metricsOnPublicPort) return;
  const authorized = metricsAuthorizer(deps.metricsToken);
  app.get('/metrics', async (req, reply) => {
    if (!authorized(req.headers.authorization)) throw appError('unauthorized', 'metrics need the METRICS_TOKEN bearer token');
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
