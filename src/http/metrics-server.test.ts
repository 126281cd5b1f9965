// The metrics-only port on a real socket: /metrics and nothing else, the token when one is set, loopback binding.
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../metrics/metrics.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';

let server: MetricsServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const start = async (token: string | null) =>
  (server = await startMetricsServer({
    port: 0,
    host: '127.0.0.1',
    registry: createMetrics('metrics-port-test').registry,
    token,
    requestTimeoutMs: 2000,
    keepAliveTimeoutMs: 1000,
  }));

describe('metrics server', () => {
  it('serves GET /metrics (Prometheus text) and answers 404 to anything else', async () => {
    const { port } = await start(null);
    const ok = await fetch(`http://127.0.0.1:${port}/metrics?x=1`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await ok.text()).toContain('instance_id="metrics-port-test"');
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/api/users/me'],
      ['POST', '/metrics'],
    ] as const) {
      const r = await fetch(`http://127.0.0.1:${port}${path}`, { method });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect((await r.json()).error.code).toBe('not-found');
    }
  });

  it('with METRICS_TOKEN, wants exactly `Authorization: Bearer <token>`', async () => {
    const token = 'a-metrics-token-of-enough-length';
    const { port } = await start(token);
    const get = (authorization?: string) => fetch(`http://127.0.0.1:${port}/metrics`, { headers: authorization ? { authorization } : {} });
    for (const bad of [undefined, token, `Bearer ${token}x`, 'Bearer wrong']) {
      const r = await get(bad);
      expect(r.status, String(bad)).toBe(401);
      expect((await r.json()).error.code).toBe('unauthorized');
    }
    expect((await get(`Bearer ${token}`)).status).toBe(200);
  });
});
