// src/metrics/http.ts on a real fastify instance: request ids accepted/echoed, one access line per request
// without headers or query strings, and chat_http_requests_total / chat_http_request_duration_seconds labelled
// by route pattern (never the raw URL).
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { UNMATCHED_ROUTE, httpObservability, httpServerOptions, withHttpObservability, type AccessLog } from '../../src/metrics/http.js';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';

interface Line {
  level: 'info' | 'debug';
  obj: Record<string, unknown>;
  msg: string;
}

let app: FastifyInstance | null = null;
afterEach(async () => {
  await app?.close();
  app = null;
});

async function build(form: 'register' | 'deps-plugin' = 'register'): Promise<{ app: FastifyInstance; metrics: Metrics; lines: Line[] }> {
  const metrics = createMetrics('ops-http');
  const lines: Line[] = [];
  const log: AccessLog = {
    info: (obj, msg) => lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
    debug: (obj, msg) => lines.push({ level: 'debug', obj: obj as Record<string, unknown>, msg }),
  };
  // As server.ts would: the options spread into Fastify(), the plugin registered before the routes.
  app = Fastify({ ...httpServerOptions(), logger: false });
  if (form === 'register') await app.register(httpObservability, { metrics, log });
  else await withHttpObservability({ metrics, log })(app); // HttpDeps.plugins form
  app.get('/api/rooms/:id', async (req) => ({ id: (req.params as { id: string }).id }));
  app.post('/api/rooms/:id/messages', async (_req, reply) => reply.status(202).send({ ok: true }));
  app.get('/api/boom', async () => {
    throw new Error('boom');
  });
  app.get('/metrics', async () => 'ok');
  // a plugin with its own prefix: the hooks still apply (the plugin is not encapsulated)
  await app.register(
    async (child) => {
      child.get('/thing/:x', async () => 'nested');
    },
    { prefix: '/api/nested' },
  );
  return { app, metrics, lines };
}

async function requests(metrics: Metrics): Promise<Array<{ labels: Record<string, string | number>; value: number }>> {
  return (await metrics.httpRequests.get()).values.map((v) => ({ labels: v.labels as Record<string, string | number>, value: v.value }));
}

describe('httpObservability', () => {
  it('counts by method, route pattern and status; times by method and route', async () => {
    const { app, metrics } = await build();
    for (const id of ['1', '2', '3']) expect((await app.inject({ method: 'GET', url: `/api/rooms/${id}?x=1` })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/api/rooms/9/messages', payload: {} })).statusCode).toBe(202);
    expect((await app.inject({ method: 'GET', url: '/api/boom' })).statusCode).toBe(500);
    expect((await app.inject({ method: 'GET', url: '/no/such/path/123' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/api/nested/thing/7' })).statusCode).toBe(200);
    const counts = await requests(metrics);
    const find = (method: string, route: string, status: string) =>
      counts.find((c) => c.labels.method === method && c.labels.route === route && c.labels.status === status)?.value;
    expect(find('GET', '/api/rooms/:id', '200')).toBe(3);
    expect(find('POST', '/api/rooms/:id/messages', '202')).toBe(1);
    expect(find('GET', '/api/boom', '500')).toBe(1);
    expect(find('GET', UNMATCHED_ROUTE, '404')).toBe(1);
    expect(find('GET', '/api/nested/thing/:x', '200')).toBe(1);
    expect(counts.map((c) => String(c.labels.route))).not.toContain('/no/such/path/123');
    const durations = (await metrics.httpDuration.get()).values.filter((v) => v.metricName === 'chat_http_request_duration_seconds_count');
    expect(durations.find((d) => d.labels.route === '/api/rooms/:id' && d.labels.method === 'GET')?.value).toBe(3);
    expect(durations.find((d) => d.labels.route === UNMATCHED_ROUTE)?.value).toBe(1);
    const sum = (await metrics.httpDuration.get()).values.find(
      (v) => v.metricName === 'chat_http_request_duration_seconds_sum' && v.labels.route === '/api/rooms/:id',
    );
    expect(sum?.value).toBeGreaterThan(0);
    expect(sum?.value).toBeLessThan(5); // seconds, not milliseconds
  });

  it('accepts a sane x-request-id, echoes it, and replaces a hostile one', async () => {
    const { app, lines } = await build('deps-plugin');
    const ok = await app.inject({ method: 'GET', url: '/api/rooms/1', headers: { 'x-request-id': 'client-abc.123' } });
    expect(ok.headers['x-request-id']).toBe('client-abc.123');
    const none = await app.inject({ method: 'GET', url: '/api/rooms/1' });
    expect(none.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const hostile = await app.inject({ method: 'GET', url: '/api/rooms/1', headers: { 'x-request-id': 'a b\u001b[31m"' + 'x'.repeat(300) } });
    expect(hostile.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const long = await app.inject({ method: 'GET', url: '/api/rooms/1', headers: { 'x-request-id': 'y'.repeat(129) } });
    expect(long.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    // the 404 and 500 answers carry it too
    const notFound = await app.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': 'nf-1' } });
    expect(notFound.headers['x-request-id']).toBe('nf-1');
    expect(lines.map((l) => l.obj.reqId)).toEqual([
      'client-abc.123',
      none.headers['x-request-id'],
      hostile.headers['x-request-id'],
      long.headers['x-request-id'],
      'nf-1',
    ]);
  });

  it('logs one info line per request with method, route, path, status, duration and request id — never headers, tokens or the query', async () => {
    const { app, lines } = await build();
    const token = 'eyJhbGciOiJIUzI1NiJ9.secret-token-value.sig';
    await app.inject({
      method: 'GET',
      url: `/api/rooms/42?access_token=${token}`,
      headers: { authorization: `Bearer ${token}`, cookie: `s=${token}`, 'x-request-id': 'r-1' },
    });
    await app.inject({ method: 'GET', url: '/metrics' });
    expect(lines).toHaveLength(2);
    const [line, scrape] = lines as [Line, Line];
    expect(line.level).toBe('info');
    expect(line.msg).toBe('request completed');
    expect(line.obj).toEqual({ reqId: 'r-1', method: 'GET', route: '/api/rooms/:id', path: '/api/rooms/42', status: 200, durationMs: expect.any(Number) });
    expect(JSON.stringify(lines)).not.toContain('secret-token-value');
    expect(JSON.stringify(lines).toLowerCase()).not.toContain('authorization');
    // scrapes and probes are counted but logged at debug
    expect(scrape.level).toBe('debug');
    expect(scrape.obj.route).toBe('/metrics');
  });
});
