// Security (issue 8), REST and HTTP side, against real server processes: the HTTP port closes slow and silent
// sockets and caps sockets per address, logins are throttled per account and per address (hashing fairly queued
// off the event loop) and every refusal costs the same time, sign-ups and room creation are throttled, GROUP rooms are private unless made public, the
// room list pages, validly signed tokens with an impossible `sub` are 401, a missing room and a foreign room answer
// alike, /metrics can require a token and /readyz answers from a cache. Every client below binds its own loopback
// source address (127.x.y.z), so per-address limits count only what that test did.
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startServer, waitFor, withDeadline, type ServerProc } from '../support/cluster.js';
import { RawConn } from '../support/raw.js';
import { readSetting } from '../../src/config.js';

const DEV_SECRET = 'dev-only-secret-do-not-use-in-production';
const METRICS_TOKEN = `metrics-${randomUUID()}`;
const PASSWORD = 'correct horse battery';

/** A login window that does not end during this run (windows are aligned to the epoch). */
function loginWindowMs(): number {
  for (const w of [600_000, 660_000, 720_000, 780_000]) if (Date.now() % w < w - 180_000) return w;
  return 840_000;
}

const LIMITS = {
  LOGIN_FAILURES_PER_ACCOUNT: 5,
  LOGIN_FAILURES_PER_IP: 12,
  LOGIN_WINDOW_MS: loginWindowMs(),
  SIGNUP_BURST_PER_IP: 3,
  SIGNUP_PER_SEC_PER_IP: 0.2,
  ROOMS_PER_USER_PER_HOUR: 5,
  MAX_REST_SENDS_IN_FLIGHT: 4,
} as const;
/** The server whose HTTP timeouts are tested (small, so a request that takes longer is easy to make). */
const SLOW_LIMITS = { HTTP_REQUEST_TIMEOUT_MS: 1000, MAX_PENDING_PER_IP: 20 } as const;

let srv: ServerProc;
let slow: ServerProc;
let redisProxy: PingCountingProxy;

beforeAll(async () => {
  redisProxy = await PingCountingProxy.start(new URL(readSetting('REDIS_URL')));
  const env = Object.fromEntries(Object.entries(LIMITS).map(([k, v]) => [k, String(v)]));
  [srv, slow] = await Promise.all([
    startServer({ env: { ...env, METRICS_TOKEN, REDIS_URL: redisProxy.url } }),
    // The same sign-up budget on both: it is shared by every instance.
    startServer({
      env: {
        ...Object.fromEntries(Object.entries(SLOW_LIMITS).map(([k, v]) => [k, String(v)])),
        SIGNUP_BURST_PER_IP: env.SIGNUP_BURST_PER_IP!,
        SIGNUP_PER_SEC_PER_IP: env.SIGNUP_PER_SEC_PER_IP!,
      },
    }),
  ]);
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([srv?.stop(), slow?.stop()]);
  await redisProxy?.close();
});

// --- clients bound to their own loopback address -------------------------------------------------------------------

let ipCounter = Math.floor(Math.random() * 40_000);
function freshIp(): string {
  const n = ++ipCounter;
  return `127.102.${1 + ((n >> 8) % 250)}.${1 + (n % 250)}`;
}

interface Reply {
  status: number;
  body: any;
  /** The socket error when no HTTP answer came (status 0). */
  error?: string;
}

/** One HTTP request on a socket of its own, from `ip`. Never throws: no answer is status 0 with `error`. */
function call(
  server: ServerProc,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; ip?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve) => {
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        method,
        path,
        agent: false,
        localAddress: opts.ip ?? freshIp(),
        headers: {
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : null;
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on('error', (err) => resolve({ status: 0, body: null, error: (err as NodeJS.ErrnoException).code ?? err.message }));
      },
    );
    req.on('error', (err) => resolve({ status: 0, body: null, error: (err as NodeJS.ErrnoException).code ?? err.message }));
    req.end(payload);
  });
}

interface Account {
  id: string;
  email: string;
  token: string;
}

/** A user, signed up from an address of its own (sign-ups are throttled per address). */
async function signup(server: ServerProc = srv, prefix = 'rsec'): Promise<Account> {
  const email = `${prefix}-${randomUUID()}@test.local`;
  const r = await call(server, 'POST', '/api/auth/signup', { body: { email, password: PASSWORD, nickname: prefix } });
  if (r.status !== 201) throw new Error(`signup failed: ${r.status} ${r.error ?? JSON.stringify(r.body)}`);
  return { id: r.body.user.id, email, token: r.body.accessToken };
}

async function users(n: number, server: ServerProc = srv): Promise<Account[]> {
  return Promise.all(Array.from({ length: n }, () => signup(server)));
}

async function group(owner: Account, members: Account[] = [], extra: Record<string, unknown> = {}): Promise<string> {
  const r = await call(srv, 'POST', '/api/rooms', {
    token: owner.token,
    body: { type: 'GROUP', name: `r-${randomUUID().slice(0, 8)}`, memberIds: members.map((m) => m.id), ...extra },
  });
  if (r.status !== 201) throw new Error(`create room failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id;
}

function expectError(r: Reply, status: number, code: string): void {
  expect(r.status, `${r.error ?? ''} ${JSON.stringify(r.body)}`).toBe(status);
  expect(Object.keys(r.body ?? {})).toEqual(['error']);
  expect(r.body.error.code).toBe(code);
}

const login = (email: string, password: string, ip?: string) => call(srv, 'POST', '/api/auth/login', { body: { email, password }, ...(ip ? { ip } : {}) });

/** A raw TCP socket to the HTTP port from `ip`; resolves once connected. */
function rawSocket(server: ServerProc, ip: string): Promise<Socket & { closedAt?: number; closedP: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ host: '127.0.0.1', port: server.port, localAddress: ip }) as Socket & { closedAt?: number; closedP: Promise<void> };
    s.closedP = new Promise((r) =>
      s.once('close', () => {
        s.closedAt = Date.now();
        r();
      }),
    );
    s.on('error', () => {});
    s.once('connect', () => resolve(s));
    setTimeout(() => reject(new Error('connect timeout')), 10_000).unref();
  });
}

/** Counts PING commands between the server and Redis (the /readyz probe's Redis check). */
class PingCountingProxy {
  pings = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(target: URL): Promise<PingCountingProxy> {
    const port = await freePort();
    const server = createServer();
    const proxy = new PingCountingProxy(server, `redis://127.0.0.1:${port}`);
    server.on('connection', (client) => {
      const upstream = createConnection({ host: target.hostname, port: Number(target.port || 6379) });
      proxy.sockets.add(client).add(upstream);
      let tail = '';
      client.on('data', (d: Buffer) => {
        const text = tail + d.toString('latin1');
        for (const m of text.matchAll(/\*1\r\n\$4\r\nping\r\n/gi)) if (m.index! + m[0].length > tail.length) proxy.pings++;
        tail = text.slice(-16);
        upstream.write(d);
      });
      upstream.on('data', (d: Buffer) => client.write(d));
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    return proxy;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

// --- the HTTP port --------------------------------------------------------------------------------------------------

describe(`HTTP port (HTTP_REQUEST_TIMEOUT_MS=${SLOW_LIMITS.HTTP_REQUEST_TIMEOUT_MS}, MAX_PENDING_PER_IP=${SLOW_LIMITS.MAX_PENDING_PER_IP})`, () => {
  it('sockets that send nothing, half a request line, or headers without their body are closed after HTTP_REQUEST_TIMEOUT_MS', async () => {
    const ip = freshIp();
    const kinds: Array<[string, string]> = [
      ['nothing', ''],
      ['half a request line', 'GET /api/rooms HT'],
      ['headers, no blank line', 'GET /api/rooms HTTP/1.1\r\nHost: x\r\n'],
      ['a body that never comes', 'POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"em'],
    ];
    const t0 = Date.now();
    const socks = await Promise.all(
      kinds.flatMap(([, bytes]) =>
        [0, 1, 2].map(async () => {
          const s = await rawSocket(slow, ip);
          if (bytes) s.write(bytes);
          return s;
        }),
      ),
    );
    await Promise.all(socks.map((s) => withDeadline(s.closedP, 4000, 'socket closed by the server').catch(() => s.destroy())));
    const times = socks.map((s) => (s.closedAt ?? Infinity) - t0);
    console.log(`[slow sockets] closed after ${kinds.map(([k], i) => `${k}: ${times.slice(i * 3, i * 3 + 3).join('/')}`).join('; ')} ms`);
    for (const t of times) {
      expect(t).toBeGreaterThanOrEqual(SLOW_LIMITS.HTTP_REQUEST_TIMEOUT_MS - 100);
      expect(t).toBeLessThanOrEqual(SLOW_LIMITS.HTTP_REQUEST_TIMEOUT_MS + 1000);
    }
    expect((await call(slow, 'GET', '/healthz')).status).toBe(200);
  });

  it('a request line dripped one byte every 300 ms is closed after HTTP_REQUEST_TIMEOUT_MS too (slowloris)', async () => {
    const s = await rawSocket(slow, freshIp());
    const line = `GET /api/rooms HTTP/1.1\r\nHost: x\r\nX-Pad: ${'p'.repeat(100)}\r\n\r\n`;
    const t0 = Date.now();
    let i = 0;
    const drip = setInterval(() => {
      if (i < line.length && !s.destroyed) s.write(line[i++]!);
    }, 300);
    try {
      await withDeadline(s.closedP, SLOW_LIMITS.HTTP_REQUEST_TIMEOUT_MS + 2000, 'dripping socket closed').catch(() => undefined);
    } finally {
      clearInterval(drip);
      s.destroy();
    }
    const closedAfter = (s.closedAt ?? Infinity) - t0;
    console.log(
      `[drip] ${i} bytes sent; closed by the server after ${Number.isFinite(closedAfter) && closedAfter < SLOW_LIMITS.HTTP_REQUEST_TIMEOUT_MS + 2000 ? `${closedAfter} ms` : `never within ${SLOW_LIMITS.HTTP_REQUEST_TIMEOUT_MS + 2000} ms`}`,
    );
    expect(closedAfter).toBeLessThanOrEqual(SLOW_LIMITS.HTTP_REQUEST_TIMEOUT_MS + 1000);
  });

  it('more than MAX_PENDING_PER_IP sockets from one address: the extra ones are closed at once; other addresses and WebSockets unaffected', async () => {
    const ip = freshIp();
    const held = await Promise.all(Array.from({ length: SLOW_LIMITS.MAX_PENDING_PER_IP }, () => rawSocket(slow, ip)));
    const t0 = Date.now();
    const extra = await Promise.all([0, 1, 2].map(() => rawSocket(slow, ip)));
    await Promise.all(extra.map((s) => withDeadline(s.closedP, 500, 'socket over the cap closed at once')));
    console.log(`[socket cap] sockets over the cap closed after ${extra.map((s) => s.closedAt! - t0).join('/')} ms`);
    expect(held.filter((s) => s.closedAt !== undefined).length, 'sockets within the cap still open').toBe(0);
    // Another address is served meanwhile.
    expect((await call(slow, 'GET', '/healthz')).status).toBe(200);
    for (const s of held) s.destroy();
    // Once they are gone the address is served again.
    await waitFor(async () => (await call(slow, 'GET', '/healthz', { ip })).status === 200, 5000, 'address served again', 100);
  });

  it('an authenticated WebSocket that is quiet for longer than HTTP_REQUEST_TIMEOUT_MS stays open (HTTP timeouts end at the upgrade)', async () => {
    const u = await signup(slow);
    const c = await RawConn.ws(slow.wsUrl, { localAddress: freshIp() });
    await c.connect(u.token, { 'heart-beat': '0,0' });
    const quietUntil = Date.now() + SLOW_LIMITS.HTTP_REQUEST_TIMEOUT_MS * 2.5;
    await waitFor(() => c.isClosed || Date.now() >= quietUntil, SLOW_LIMITS.HTTP_REQUEST_TIMEOUT_MS * 4, 'quiet period', 50);
    expect(c.closedAt, 'closed during the quiet period').toBeNull();
    await c.subscribe('/user/queue/notifications', 'q', { receipt: 'alive' });
    c.destroy();
  });

  it('a request that takes longer than HTTP_REQUEST_TIMEOUT_MS to answer still gets its answer (64 logins queued for hashing)', async () => {
    const accounts = [`nobody-${randomUUID()}@test.local`, `nobody-${randomUUID()}@test.local`];
    const t0 = Date.now();
    const replies = await Promise.all(
      Array.from({ length: 64 }, (_, i) =>
        call(slow, 'POST', '/api/auth/login', { body: { email: accounts[i % 2], password: 'wrong password' }, ip: freshIp() }).then((r) => ({
          ...r,
          ms: Date.now() - t0,
        })),
      ),
    );
    const byOutcome: Record<string, number> = {};
    for (const r of replies)
      byOutcome[r.status ? String(r.status) : `no answer (${r.error})`] = (byOutcome[r.status ? String(r.status) : `no answer (${r.error})`] ?? 0) + 1;
    const slowest = Math.max(...replies.map((r) => r.ms));
    console.log(`[long requests] 64 concurrent logins: ${JSON.stringify(byOutcome)}; slowest ${slowest} ms`);
    expect(
      replies.filter((r) => r.status === 0).map((r) => `${r.error} after ${r.ms} ms`),
      'requests left without an answer',
    ).toEqual([]);
    for (const r of replies) expect([401, 429, 503]).toContain(r.status);
  });
});

// --- accounts ---------------------------------------------------------------------------------------------------------

describe('accounts', () => {
  it(`after LOGIN_FAILURES_PER_ACCOUNT (${LIMITS.LOGIN_FAILURES_PER_ACCOUNT}) failures an account answers 429 even to the right password; other accounts unaffected`, async () => {
    const [victim, other] = await users(2);
    for (let i = 0; i < LIMITS.LOGIN_FAILURES_PER_ACCOUNT; i++) expectError(await login(victim!.email, `wrong-${i}`), 401, 'invalid-credentials');
    // From fresh addresses each time: the account's count, not an address's, is what refuses.
    const locked = await login(victim!.email, PASSWORD);
    expectError(locked, 429, 'rate-limited');
    expectError(await login(victim!.email.toUpperCase(), PASSWORD), 429, 'rate-limited');
    expect((await login(other!.email, PASSWORD)).status).toBe(200);
  });

  it(`after LOGIN_FAILURES_PER_IP (${LIMITS.LOGIN_FAILURES_PER_IP}) failures from one address every login from it is 429; other addresses unaffected`, async () => {
    const [u] = await users(1);
    const ip = freshIp();
    // Each failure against another (unknown) account, so no account reaches its own limit.
    for (let i = 0; i < LIMITS.LOGIN_FAILURES_PER_IP; i++)
      expectError(await login(`nobody-${randomUUID()}@test.local`, 'wrong password', ip), 401, 'invalid-credentials');
    expectError(await login(u!.email, PASSWORD, ip), 429, 'rate-limited');
    expectError(await login(`nobody-${randomUUID()}@test.local`, 'wrong password', ip), 429, 'rate-limited');
    const ok = await login(u!.email, PASSWORD);
    expect(ok.status).toBe(200);
    expect(ok.body.user.id).toBe(u!.id);
  });

  it('32 concurrent bogus logins against account A do not hold up a real login of account B (hashing queued fairly per account)', async () => {
    const [a, b] = await users(2);
    const timeLogin = async () => {
      const t0 = performance.now();
      const r = await login(b!.email, PASSWORD);
      expect(r.status).toBe(200);
      return performance.now() - t0;
    };
    const unloaded: number[] = [];
    for (let i = 0; i < 3; i++) unloaded.push(await timeLogin());
    unloaded.sort((x, y) => x - y);
    const base = unloaded[1]!;
    // The flood from one address; B logs in from another once the flood's requests are all on the wire and queued.
    const ip = freshIp();
    let written = 0;
    const flood = Array.from({ length: 32 }, (_, i) =>
      call(srv, 'POST', '/api/auth/login', { body: { email: a!.email, password: `bogus-${i}` }, ip }).finally(() => written++),
    );
    await new Promise((r) => setTimeout(r, Math.max(50, base)));
    const loaded = await timeLogin();
    const answers = await Promise.all(flood);
    console.log(
      `[login fairness] B unloaded ${unloaded.map((x) => x.toFixed(0)).join('/')} ms, with 32 bogus logins of A in the queue ${loaded.toFixed(0)} ms; flood answers ${JSON.stringify(answers.reduce<Record<number, number>>((m, r) => ((m[r.status] = (m[r.status] ?? 0) + 1), m), {}))}`,
    );
    for (const r of answers) expect([401, 429]).toContain(r.status);
    expect(loaded).toBeLessThanOrEqual(Math.max(5 * base, base + 400));
  });

  it('a refused login costs the same whether the e-mail has an account or not, throttled or not (medians of 32 tries each)', async () => {
    // Four kinds of wrong-password login, measured round-robin so that load on the (shared) machine hits all alike:
    // known and unknown e-mails below LOGIN_FAILURES_PER_ACCOUNT (401, 8 of each, 4 tries each) and known and unknown
    // e-mails already at it (429). Every request from a fresh address, one at a time.
    const tries = LIMITS.LOGIN_FAILURES_PER_ACCOUNT - 1;
    const accounts = (await users(16)).map((u) => u.email);
    const nobody = () => `nobody-${randomUUID()}@test.local`;
    const emails = {
      known: accounts.slice(0, 8),
      unknown: Array.from({ length: 8 }, nobody),
      knownThrottled: accounts.slice(8),
      unknownThrottled: Array.from({ length: 8 }, nobody),
    };
    const wrong = () => `wrong-${randomUUID()}`;
    for (let k = 0; k < LIMITS.LOGIN_FAILURES_PER_ACCOUNT; k++) {
      for (const email of [...emails.knownThrottled, ...emails.unknownThrottled]) expect((await login(email, wrong())).status).toBe(401);
    }
    const samples: Record<keyof typeof emails, number[]> = { known: [], unknown: [], knownThrottled: [], unknownThrottled: [] };
    const kinds = Object.keys(emails) as Array<keyof typeof emails>;
    for (let round = 0; round < tries; round++) {
      for (let i = 0; i < 8; i++) {
        // The order turns every time, so no kind always follows the same one.
        for (const kind of [...kinds.slice(i % 4), ...kinds.slice(0, i % 4)]) {
          const t0 = performance.now();
          const r = await login(emails[kind][i]!, wrong());
          samples[kind].push(performance.now() - t0);
          expect(r.status, `${kind}: ${JSON.stringify(r.body)}`).toBe(kind.endsWith('Throttled') ? 429 : 401);
        }
      }
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const medians = Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, Math.round(median(xs) * 10) / 10]));
    console.log(`[login timing] medians (ms) of ${samples.known.length} tries each: ${JSON.stringify(medians)}`);
    // Within 30 % of each other (8 ms at least): before, a throttled answer took ~1 ms next to ~40 ms for a checked one.
    const [low, high] = [Math.min(...Object.values(medians)), Math.max(...Object.values(medians))];
    expect(low, `medians ${JSON.stringify(medians)}`).toBeGreaterThanOrEqual(Math.min(high * 0.7, high - 8));
  });

  it(`sign-ups are throttled per address over every instance (SIGNUP_BURST_PER_IP=${LIMITS.SIGNUP_BURST_PER_IP}, ${LIMITS.SIGNUP_PER_SEC_PER_IP}/s): 429 rate-limited beyond`, async () => {
    const ip = freshIp();
    const attempt = (server: ServerProc) =>
      call(server, 'POST', '/api/auth/signup', { ip, body: { email: `burst-${randomUUID()}@test.local`, password: PASSWORD, nickname: 'burst' } });
    // Half on each instance: one budget between them (per instance, each would have taken its own burst).
    const replies = await Promise.all(Array.from({ length: LIMITS.SIGNUP_BURST_PER_IP + 3 }, (_, i) => attempt(i % 2 === 0 ? srv : slow)));
    const statuses = replies.map((r) => r.status).sort();
    expect(statuses).toEqual([...Array(LIMITS.SIGNUP_BURST_PER_IP).fill(201), ...Array(3).fill(429)]);
    for (const r of replies.filter((x) => x.status === 429)) expectError(r, 429, 'rate-limited');
    // A refusal costs no token: refused again at once, then one sign-up after one refill (5 s at 0.2/s), not later.
    expectError(await attempt(slow), 429, 'rate-limited');
    // Another address is not affected; this one refills.
    expect((await signup()).id).toMatch(/^\d+$/);
    await waitFor(async () => (await attempt(srv)).status === 201, 10_000, 'refill', 500);
    expectError(await attempt(slow), 429, 'rate-limited');
  });
});

// --- blocking -----------------------------------------------------------------------------------------------------

const NO_SUCH_USER = '9223372036854775000';

describe('blocking', () => {
  it('POST/DELETE /api/users/:id/block are idempotent (200), GET /api/users/blocked lists them; oneself 400, unknown 404', async () => {
    const [me, x, y] = await users(3);
    const block = (id: string) => call(srv, 'POST', `/api/users/${id}/block`, { token: me!.token });
    const unblock = (id: string) => call(srv, 'DELETE', `/api/users/${id}/block`, { token: me!.token });
    const listed = async () => (await call(srv, 'GET', '/api/users/blocked', { token: me!.token })).body.users;
    for (let i = 0; i < 2; i++) expect(await block(x!.id)).toEqual({ status: 200, body: { userId: x!.id, blocked: true } });
    expect((await block(y!.id)).status).toBe(200);
    const list = await listed();
    expect(list.map((u: { id: string }) => u.id).sort()).toEqual([x!.id, y!.id].sort());
    expect(list.find((u: { id: string }) => u.id === x!.id)).toEqual({ id: x!.id, nickname: 'rsec', blockedAt: expect.stringMatching(/Z$/) });
    for (let i = 0; i < 2; i++) expect(await unblock(x!.id)).toEqual({ status: 200, body: { userId: x!.id, blocked: false } });
    expect((await listed()).map((u: { id: string }) => u.id)).toEqual([y!.id]);
    for (const r of [await block(me!.id), await unblock(me!.id)]) {
      expectError(r, 400, 'invalid-request');
      expect(r.body.error.field).toBe('id');
    }
    for (const r of [await block(NO_SUCH_USER), await unblock(NO_SUCH_USER)]) expectError(r, 404, 'not-found');
    expect((await block('007')).body.error.field).toBe('id');
    expectError(await call(srv, 'GET', '/api/users/blocked'), 401, 'unauthorized');
    // Another user's list is their own.
    expect((await call(srv, 'GET', '/api/users/blocked', { token: x!.token })).body.users).toEqual([]);
  });

  it('a blocked user cannot add the blocker to a GROUP, invite them or open a DIRECT room with them: the very answer an unknown user gets', async () => {
    const [blocker, blocked, friend] = await users(3);
    expect((await call(srv, 'POST', `/api/users/${blocker!.id}/block`, { token: blocked!.token })).status).toBe(200); // the other way round: no effect here
    expect((await call(srv, 'DELETE', `/api/users/${blocker!.id}/block`, { token: blocked!.token })).status).toBe(200);
    expect((await call(srv, 'POST', `/api/users/${blocked!.id}/block`, { token: blocker!.token })).status).toBe(200);
    const ownRoom = await group(blocked!, [friend!]);
    const attempts = (target: string) => [
      call(srv, 'POST', '/api/rooms', { token: blocked!.token, body: { type: 'GROUP', name: 'sneaky', memberIds: [friend!.id, target] } }),
      call(srv, 'POST', `/api/rooms/${ownRoom}/invitations`, { token: blocked!.token, body: { userId: target } }),
      call(srv, 'POST', '/api/rooms', { token: blocked!.token, body: { type: 'DIRECT', peerUserId: target } }),
    ];
    const asBlocked = await Promise.all(attempts(blocker!.id));
    const asUnknown = await Promise.all(attempts(NO_SUCH_USER));
    const shape = (r: Reply, id: string) => ({ status: r.status, body: JSON.parse(JSON.stringify(r.body).replaceAll(id, '<id>')) });
    for (let i = 0; i < 3; i++) {
      expectError(asBlocked[i]!, 400, 'invalid-request');
      expect(shape(asBlocked[i]!, blocker!.id)).toEqual(shape(asUnknown[i]!, NO_SUCH_USER));
    }
    expect(asBlocked.map((r) => r.body.error.field)).toEqual(['memberIds', 'userId', 'peerUserId']);
    // The same work too: one store query either way (medians of 15 interleaved tries, generous bounds).
    const timeOf = async (target: string) => {
      const t0 = performance.now();
      await call(srv, 'POST', `/api/rooms/${ownRoom}/invitations`, { token: blocked!.token, body: { userId: target } });
      return performance.now() - t0;
    };
    const times = { blocker: [] as number[], unknown: [] as number[] };
    for (let i = 0; i < 15; i++) {
      times.blocker.push(await timeOf(blocker!.id));
      times.unknown.push(await timeOf(NO_SUCH_USER));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[7]!;
    const [mb, mu] = [median(times.blocker), median(times.unknown)];
    console.log(`[blocking] refusal medians: blocker ${mb.toFixed(1)} ms, unknown user ${mu.toFixed(1)} ms`);
    expect(Math.abs(mb - mu)).toBeLessThanOrEqual(Math.max(5, 0.5 * Math.max(mb, mu)));
    // Nothing reached the blocker; the block is one-way: the blocker may still add the blocked user to a group.
    expect((await call(srv, 'GET', '/api/rooms', { token: blocker!.token })).body.rooms).toEqual([]);
    expect((await call(srv, 'POST', '/api/rooms', { token: blocker!.token, body: { type: 'GROUP', name: 'mine', memberIds: [blocked!.id] } })).status).toBe(
      201,
    );
    // The blocker opening a DIRECT room would let the blocked user back in: 409 until the block is lifted.
    expectError(await call(srv, 'POST', '/api/rooms', { token: blocker!.token, body: { type: 'DIRECT', peerUserId: blocked!.id } }), 409, 'conflict');
    expect((await call(srv, 'DELETE', `/api/users/${blocked!.id}/block`, { token: blocker!.token })).status).toBe(200);
    expect((await call(srv, 'POST', '/api/rooms', { token: blocked!.token, body: { type: 'DIRECT', peerUserId: blocker!.id } })).status).toBe(201);
  });

  it("blocking the peer of a DIRECT room ends the blocked user's access at once (STOMP and REST); the blocker keeps room and history; unblock + reopen restores it", async () => {
    const [a, b] = await users(2);
    const opened = await call(srv, 'POST', '/api/rooms', { token: a!.token, body: { type: 'DIRECT', peerUserId: b!.id } });
    const roomId = opened.body.id as string;
    for (const [who, text] of [
      [a!, 'hi b'],
      [b!, 'hi a'],
    ] as const)
      expect((await call(srv, 'POST', `/api/rooms/${roomId}/messages`, { token: who.token, body: { content: text } })).status).toBe(202);
    const [c, ca] = [await RawConn.open('tcp', srv, { localAddress: freshIp() }), await RawConn.open('tcp', srv, { localAddress: freshIp() })];
    try {
      await c.connect(b!.token);
      await c.subscribe('/user/queue/notifications', 'q');
      await c.subscribe(`/topic/rooms.${roomId}`, 'dm');
      await ca.connect(a!.token);
      await ca.subscribe(`/topic/rooms.${roomId}`, 'dm');
      expect((await call(srv, 'POST', `/api/users/${b!.id}/block`, { token: a!.token })).status).toBe(200);
      const removed = await c.next((f) => f.command === 'MESSAGE' && f.headers['event-type'] === 'room-removed', 10_000, 'room-removed');
      expect(removed.json).toEqual({ roomId, reason: 'removed' });
      // A's next message reaches A's subscription and not B's (same instance, same fan-out); B cannot send.
      expect((await call(srv, 'POST', `/api/rooms/${roomId}/messages`, { token: a!.token, body: { content: 'after the block' } })).status).toBe(202);
      await ca.next((f) => f.command === 'MESSAGE' && f.json?.content === 'after the block', 30_000, "A's own message");
      expect(c.messages((f) => f.headers.subscription === 'dm' && f.json?.content === 'after the block')).toEqual([]);
      c.send('SEND', { destination: `/topic/rooms.${roomId}`, receipt: 'nope' }, 'let me in');
      expect((await c.error()).headers.message).toBe('forbidden');
    } finally {
      c.destroy();
      ca.destroy();
    }
    expectError(await call(srv, 'POST', `/api/rooms/${roomId}/messages`, { token: b!.token, body: { content: 'x' } }), 403, 'forbidden');
    expectError(await call(srv, 'GET', `/api/rooms/${roomId}/messages`, { token: b!.token }), 403, 'forbidden');
    expect((await call(srv, 'GET', '/api/rooms', { token: b!.token })).body.rooms.map((r: { id: string }) => r.id)).not.toContain(roomId);
    const mine = (await call(srv, 'GET', '/api/rooms', { token: a!.token })).body.rooms.find((r: { id: string }) => r.id === roomId);
    expect(mine).toMatchObject({ type: 'DIRECT', peer: { userId: b!.id } });
    const history = async (who: Account) =>
      (await call(srv, 'GET', `/api/rooms/${roomId}/messages?afterSeq=0`, { token: who.token })).body.messages.map((m: { content: string }) => m.content);
    await waitFor(async () => (await history(a!)).length === 3, 30_000, 'the three messages stored', 200);
    // Lifted and reopened (by either): the same room, with its whole history, for both.
    expect((await call(srv, 'DELETE', `/api/users/${b!.id}/block`, { token: a!.token })).status).toBe(200);
    const back = await call(srv, 'POST', '/api/rooms', { token: b!.token, body: { type: 'DIRECT', peerUserId: a!.id } });
    expect(back.status).toBe(200);
    expect(back.body.id).toBe(roomId);
    expect(await history(b!)).toEqual(['hi b', 'hi a', 'after the block']);
  });
});

// --- rooms --------------------------------------------------------------------------------------------------------

describe('rooms', () => {
  it('GROUP rooms are private by default: join needs an invitation from a member; public rooms are open', async () => {
    const [owner, outsider, third] = await users(3);
    const room = await group(owner!);
    expectError(await call(srv, 'POST', `/api/rooms/${room}/join`, { token: outsider!.token }), 403, 'forbidden');
    expectError(await call(srv, 'GET', `/api/rooms/${room}/messages`, { token: outsider!.token }), 403, 'forbidden');
    expectError(await call(srv, 'GET', `/api/rooms/${room}`, { token: outsider!.token }), 403, 'forbidden');
    // A non-member cannot invite (or invite themselves).
    expectError(await call(srv, 'POST', `/api/rooms/${room}/invitations`, { token: third!.token, body: { userId: third!.id } }), 403, 'forbidden');
    expectError(await call(srv, 'POST', `/api/rooms/${room}/join`, { token: third!.token }), 403, 'forbidden');
    // A member invites: the invitee joins and reads.
    const inv = await call(srv, 'POST', `/api/rooms/${room}/invitations`, { token: owner!.token, body: { userId: outsider!.id } });
    expect(inv.status, JSON.stringify(inv.body)).toBe(201);
    const joined = await call(srv, 'POST', `/api/rooms/${room}/join`, { token: outsider!.token });
    expect(joined.status, JSON.stringify(joined.body)).toBe(200);
    expect((await call(srv, 'GET', `/api/rooms/${room}/messages`, { token: outsider!.token })).status).toBe(200);
    // The invitation was for that user only.
    expectError(await call(srv, 'POST', `/api/rooms/${room}/join`, { token: third!.token }), 403, 'forbidden');
    // Public: anyone may join.
    const pub = await group(owner!, [], { visibility: 'public' });
    expect((await call(srv, 'POST', `/api/rooms/${pub}/join`, { token: third!.token })).status).toBe(200);
    expect((await call(srv, 'GET', `/api/rooms/${pub}/messages`, { token: third!.token })).status).toBe(200);
    // A DIRECT room takes no joiners.
    const direct = await call(srv, 'POST', '/api/rooms', { token: owner!.token, body: { type: 'DIRECT', peerUserId: outsider!.id } });
    expectError(await call(srv, 'POST', `/api/rooms/${direct.body.id}/join`, { token: third!.token }), 403, 'forbidden');
  });

  it(`a user creates at most ROOMS_PER_USER_PER_HOUR (${LIMITS.ROOMS_PER_USER_PER_HOUR}) rooms: 429 beyond`, async () => {
    const [c, m] = await users(2);
    for (let i = 0; i < LIMITS.ROOMS_PER_USER_PER_HOUR; i++) await group(c!, [m!]);
    const over = await call(srv, 'POST', '/api/rooms', { token: c!.token, body: { type: 'GROUP', name: 'one too many', memberIds: [m!.id] } });
    expectError(over, 429, 'rate-limited');
    // Nothing was pushed onto the member's list by the refused one.
    const list = await call(srv, 'GET', '/api/rooms?limit=100', { token: m!.token });
    expect(list.body.rooms).toHaveLength(LIMITS.ROOMS_PER_USER_PER_HOUR);
  });

  it('GET /api/rooms pages with limit and after (nextCursor), every room once', async () => {
    const [p, c1, c2] = await users(3);
    const ids = [...(await Promise.all([0, 1, 2, 3].map(() => group(c1!, [p!])))), ...(await Promise.all([0, 1, 2].map(() => group(c2!, [p!]))))];
    const seen: string[] = [];
    let after: string | null = null;
    const pages: number[] = [];
    for (let k = 0; k < 10; k++) {
      const r = await call(srv, 'GET', `/api/rooms?limit=3${after ? `&after=${after}` : ''}`, { token: p!.token });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      pages.push(r.body.rooms.length);
      seen.push(...r.body.rooms.map((x: { id: string }) => x.id));
      after = r.body.nextCursor;
      if (after === null) break;
    }
    expect(pages).toEqual([3, 3, 1]);
    expect([...seen].sort()).toEqual([...ids].sort());
    expect(new Set(seen).size).toBe(seen.length);
    for (const q of ['limit=0', 'limit=501', 'after=abc', 'after=007']) {
      const r = await call(srv, 'GET', `/api/rooms?${q}`, { token: p!.token });
      expectError(r, 400, 'invalid-request');
    }
  });

  it('a missing room and a foreign room answer alike (no existence oracle): REST and STOMP', async () => {
    const [owner, probe] = await users(2);
    const foreign = await group(owner!);
    const missing = '9223372036854775000';
    const requests: Array<[string, string, unknown]> = [
      ['GET', '', undefined],
      ['GET', '/messages', undefined],
      ['GET', '/messages?afterSeq=0', undefined],
      ['POST', '/messages', { content: 'probe' }],
      ['POST', '/read', { seq: '1' }],
      ['POST', '/join', undefined],
      ['POST', '/invitations', { userId: probe!.id }],
      ['POST', '/leave', undefined],
    ];
    const differ: string[] = [];
    for (const [method, suffix, body] of requests) {
      const [f, m] = await Promise.all([foreign, missing].map((id) => call(srv, method, `/api/rooms/${id}${suffix}`, { token: probe!.token, body })));
      const show = (r: Reply) => `${r.status} ${JSON.stringify(r.body)}`;
      if (show(f!) !== show(m!)) differ.push(`${method} ${suffix || '/'}: foreign ${show(f!)} vs missing ${show(m!)}`);
      else if (suffix !== '/leave') expectError(f!, 403, 'forbidden');
    }
    // STOMP: SUBSCRIBE and SEND answer the same ERROR (code and text).
    for (const [command, dest] of [
      ['SUBSCRIBE', (id: string) => `/topic/rooms.${id}`],
      ['SUBSCRIBE', (id: string) => `/topic/rooms.${id}.events`],
      ['SEND', (id: string) => `/topic/rooms.${id}`],
    ] as const) {
      const answers = await Promise.all(
        [foreign, missing].map(async (id) => {
          const c = await RawConn.tcp(srv.tcpPort);
          c.write(`CONNECT\naccept-version:1.2\nhost:/\npasscode:${probe!.token}\n\n\0${command}\ndestination:${dest(id)}\nid:x\nreceipt:r\n\nprobe\0`);
          await c.waitClosed(10_000);
          const text = c.received.toString();
          const error = text.slice(text.indexOf('ERROR\n'));
          return error.replace(/\n\n[\s\S]*$/, (b) => b).replace(id, '<id>');
        }),
      );
      expect(answers[0], `${command} ${dest('<id>')}`).toMatch(/^ERROR\n/);
      expect(answers[0]).toContain('message:forbidden');
      if (answers[0] !== answers[1]) differ.push(`${command} ${dest('<id>')}: foreign ${JSON.stringify(answers[0])} vs missing ${JSON.stringify(answers[1])}`);
    }
    expect(differ).toEqual([]);
  });
});

// --- tokens and operations ------------------------------------------------------------------------------------------

describe('tokens and operations endpoints', () => {
  it('a validly signed JWT whose sub is out of bigint range (or not a canonical id) is 401 on REST and STOMP, never 500', async () => {
    const subs = ['9223372036854775808', '99999999999999999999', '18446744073709551616', '-1', '01', ' 1', '1e3'];
    const wrong: string[] = [];
    for (const sub of subs) {
      const token = jwt.sign({ sub }, DEV_SECRET, { algorithm: 'HS256', expiresIn: 600 });
      for (const [method, path, body] of [
        ['GET', '/api/users/me', undefined],
        ['GET', '/api/rooms', undefined],
        ['POST', '/api/rooms', { type: 'GROUP', name: 'x' }],
        ['GET', '/api/rooms/1/messages', undefined],
      ] as const) {
        const r = await call(srv, method, path, { token, body });
        if (r.status !== 401 || r.body?.error?.code !== 'unauthorized')
          wrong.push(`sub ${JSON.stringify(sub)}: ${method} ${path} -> ${r.status} ${JSON.stringify(r.body)}`);
      }
      const c = await RawConn.tcp(srv.tcpPort);
      c.send('CONNECT', { 'accept-version': '1.2', host: '/', passcode: token });
      await c.waitClosed(10_000);
      if (c.frames.length !== 1 || c.frames[0]!.headers.message !== 'unauthorized') wrong.push(`sub ${JSON.stringify(sub)}: STOMP -> ${c.describe()}`);
    }
    expect(wrong).toEqual([]);
  });

  it('/metrics with METRICS_TOKEN set needs Authorization: Bearer <token>', async () => {
    expectError(await call(srv, 'GET', '/metrics'), 401, 'unauthorized');
    expectError(await call(srv, 'GET', '/metrics', { headers: { authorization: 'Bearer wrong' } }), 401, 'unauthorized');
    expectError(await call(srv, 'GET', '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}x` } }), 401, 'unauthorized');
    expectError(await call(srv, 'GET', '/metrics', { headers: { authorization: METRICS_TOKEN } }), 401, 'unauthorized');
    const ok = await call(srv, 'GET', '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(String(ok.body)).toContain('chat_sessions_active');
  });

  it('/readyz answers from a 1-second cache: 50 calls within a second ping Redis at most twice', async () => {
    // Let any cached answer expire, then count.
    await call(srv, 'GET', '/readyz');
    const t0 = Date.now();
    const before = redisProxy.pings;
    const ip = freshIp();
    const replies = await Promise.all(Array.from({ length: 30 }, () => call(srv, 'GET', '/readyz', { ip })));
    for (let i = 0; i < 20 && Date.now() - t0 < 900; i++) replies.push(await call(srv, 'GET', '/readyz', { ip }));
    const elapsed = Date.now() - t0;
    const during = redisProxy.pings - before;
    for (const r of replies) expect(r.status).toBe(200);
    // The counter does see the probe's pings: after the cache expired, one call pings again.
    await waitFor(() => Date.now() - t0 > 1100, 3000, 'cache expired', 20);
    const beforeOne = redisProxy.pings;
    expect((await call(srv, 'GET', '/readyz')).status).toBe(200);
    const one = redisProxy.pings - beforeOne;
    console.log(`[readyz] ${replies.length} calls in ${elapsed} ms -> ${during} Redis PING(s); one call after expiry -> ${one}`);
    expect(one).toBe(1);
    expect(during).toBeLessThanOrEqual(Math.ceil(elapsed / 1000) + 1);
  });

  it(`REST sends beyond MAX_REST_SENDS_IN_FLIGHT (${LIMITS.MAX_REST_SENDS_IN_FLIGHT}) at once get 429; the others are stored`, async () => {
    const [u, w] = await users(2);
    const room = await group(u!, [w!]);
    const watcher = await RawConn.tcp(srv.tcpPort);
    await watcher.connect(w!.token);
    await watcher.subscribe(`/topic/rooms.${room}`, 'w');
    const ip = freshIp();
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) => call(srv, 'POST', `/api/rooms/${room}/messages`, { token: u!.token, ip, body: { content: `in flight ${i}` } })),
    );
    const accepted = replies.filter((r) => r.status === 202);
    const refused = replies.filter((r) => r.status === 429);
    console.log(`[rest in flight] 30 concurrent sends: ${accepted.length} x 202, ${refused.length} x 429`);
    expect(accepted.length + refused.length).toBe(30);
    expect(refused.length).toBeGreaterThan(0);
    expect(accepted.length).toBeGreaterThanOrEqual(LIMITS.MAX_REST_SENDS_IN_FLIGHT);
    for (const r of refused) expectError(r, 429, 'rate-limited');
    // What was accepted reaches the room (its live subscribers), nothing else.
    const marker = await call(srv, 'POST', `/api/rooms/${room}/messages`, { token: w!.token, body: { content: 'marker' } });
    expect(marker.status).toBe(202);
    await watcher.next((f) => f.command === 'MESSAGE' && f.json?.content === 'marker', 20_000, 'marker delivered');
    const delivered = watcher.messages((f) => f.json?.content !== 'marker').map((f) => f.json as { id: string; content: string });
    expect(delivered.map((m) => m.id).sort()).toEqual(accepted.map((r) => r.body.message.id).sort());
    watcher.destroy();
  });
});

describe('afterwards', () => {
  it('both servers are alive and ready', async () => {
    for (const s of [srv, slow]) {
      expect(s.proc.exitCode).toBeNull();
      expect((await call(s, 'GET', '/readyz')).status).toBe(200);
    }
  });
});
