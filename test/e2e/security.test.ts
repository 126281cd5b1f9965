// Security (issue 8), STOMP side and across instances: membership is enforced at every moment (a leave ends the
// leaver's subscriptions on every instance and refuses their next SEND), room ids are canonical at the edge,
// sessions and subscriptions cannot outlive their connection, and every per-connection resource (pending
// connections, transactions, cheap frames, SENDs, replays, unacknowledged messages, presence) is bounded or
// throttled. Two real instances (cluster mode) with small limits so every case runs in seconds; each test makes
// its own users and rooms and waits on conditions with deadlines.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../protocol/index.js';
import { Api, type Account } from '../support/api.js';
import { ROOT, startServer, waitFor, withDeadline, type ServerProc } from '../support/cluster.js';
import { RawConn, type ServerFrame } from '../support/raw.js';
import { readSetting } from '../../src/config.js';

const DEV_SECRET = 'dev-only-secret-do-not-use-in-production';
const REDIS_URL = readSetting('REDIS_URL');
const USER_QUEUE = '/user/queue/notifications';
const MB = 1024 * 1024;

// Small limits, so that every budget is reached in a fraction of a second.
const LIMITS = {
  MAX_PENDING_PER_IP: 20,
  PRESENCE_TTL_MS: 3000,
  RATE_CONN_PER_SEC: 200,
  RATE_CONN_BURST: 100,
  RATE_USER_PER_SEC: 100,
  RATE_USER_BURST: 50,
  RATE_FRAMES_PER_SEC: 2000,
  RATE_FRAMES_BURST: 2000,
  RATE_ABUSE_MS: 3000,
  MAX_TRANSACTIONS: 4,
  MAX_TRANSACTION_FRAMES: 20,
  MAX_TRANSACTION_BYTES: 32 * 1024,
  MAX_UNACKED: 20,
  MAX_REPLAYS_PER_CONNECTION: 2,
  MAX_REPLAYS_PER_USER: 4,
} as const;
const ENV = Object.fromEntries(Object.entries(LIMITS).map(([k, v]) => [k, String(v)]));

let s1: ServerProc;
let s2: ServerProc;
let api1: Api;
let api2: Api;
let redis: Redis;
let pool: Account[] = [];
const opened: RawConn[] = [];

/** Takes `n` fresh users made in beforeAll. */
function take(n: number): Account[] {
  if (pool.length < n) throw new Error('user pool exhausted: raise USERS');
  return pool.splice(0, n);
}
const USERS = 56;

beforeAll(async () => {
  // The inspector (loopback, a free port) lets a test force a full GC in a server and read what it really retains.
  const nodeArgs = process.env.SERVER_NODE_ARGS;
  process.env.SERVER_NODE_ARGS = `${nodeArgs ?? ''} --inspect=127.0.0.1:0`;
  try {
    [s1, s2] = await Promise.all([startServer({ env: ENV }), startServer({ env: ENV })]);
  } finally {
    if (nodeArgs === undefined) delete process.env.SERVER_NODE_ARGS;
    else process.env.SERVER_NODE_ARGS = nodeArgs;
  }
  api1 = new Api(s1.baseUrl);
  api2 = new Api(s2.baseUrl);
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  pool = await api1.users(USERS, 'sec');
}, 180_000);

afterAll(async () => {
  for (const c of opened) c.destroy();
  redis?.disconnect();
  await Promise.allSettled([s1?.stop(), s2?.stop()]);
});

// --- raw STOMP connections, each from a source address of its own (127.x.y.z: every test its own "client IP") ---

let ipCounter = Math.floor(Math.random() * 40_000);
/** A loopback source address of its own (per-address limits of the server then count only this test). */
function freshIp(): string {
  const n = ++ipCounter;
  return `127.101.${1 + ((n >> 8) % 250)}.${1 + (n % 250)}`;
}

/**
 * Opens a raw connection from `localAddress` (default: a fresh one, so that per-address caps count only this
 * connection, not the test's REST client). Rejects when the server refuses it (WebSocket 503).
 */
async function openConn(kind: 'tcp' | 'ws', server: ServerProc, localAddress: string = freshIp()): Promise<RawConn> {
  const c = await RawConn.open(kind, server, { binary: true, localAddress });
  opened.push(c);
  return c;
}

// --- helpers ----------------------------------------------------------------------------------------------------

const ROOM = (id: string) => `/topic/rooms.${id}`;
const EVENTS = (id: string) => `/topic/rooms.${id}.events`;
const isEvent = (f: ServerFrame, type: string) => f.command === 'MESSAGE' && f.headers['event-type'] === type;

/** Resident memory of a server process (kB from /proc, as bytes). */
function rssOf(srv: ServerProc): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN) * 1024;
}

/**
 * What a server process retains: V8 heap in use plus memory outside it (Buffers), measured after two forced full
 * garbage collections (through its inspector), so garbage not yet collected does not count.
 */
async function retainedBytes(srv: ServerProc): Promise<number> {
  const url = await waitFor(
    () => /Debugger listening on (ws:\/\/\S+)/.exec(readFileSync(`${ROOT}.stack/test-logs/${srv.instanceId}.log`, 'utf8'))?.[1],
    10_000,
    'inspector address in the server log',
  );
  const ws = new WebSocket(url);
  await withDeadline(new Promise((r, j) => ws.once('open', r).once('error', j)), 10_000, 'inspector connect');
  let id = 0;
  const call = (method: string, params: object = {}) =>
    withDeadline(
      new Promise<any>((resolve, reject) => {
        const my = ++id;
        const on = (d: Buffer) => {
          const m = JSON.parse(d.toString());
          if (m.id !== my) return;
          ws.off('message', on);
          if (m.error) reject(new Error(`${method}: ${JSON.stringify(m.error)}`));
          else resolve(m.result);
        };
        ws.on('message', on);
        ws.send(JSON.stringify({ id: my, method, params }));
      }),
      30_000,
      `inspector ${method}`,
    );
  try {
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const r = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
    const m = JSON.parse(r.result.value) as { heapUsed: number; external: number };
    return m.heapUsed + m.external;
  } finally {
    ws.close();
  }
}

/** Sum of a metric's samples over all label sets. */
async function metricSum(srv: ServerProc, name: string): Promise<number> {
  const text = await (await fetch(`${srv.baseUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && m[1] === name) sum += Number(m[3]);
  }
  return sum;
}

/**
 * The room as seen by a live subscriber: every message appended to the room's log reaches it, in log order
 * (the broadcast consumer), whether or not the persist consumer has stored it yet.
 */
async function watch(srv: ServerProc, member: Account, roomId: string): Promise<RawConn> {
  const c = await connected('tcp', srv, member);
  await c.subscribe(ROOM(roomId), 'watch');
  return c;
}

/**
 * Sends a marker (REST, as `sender`: a member with budget left) and waits for it at `watcher`: the room's log
 * holds nothing before the marker that the watcher has not seen. Returns the messages (JSON) seen before it.
 */
async function appendedBefore(watcher: RawConn, api: Api, sender: Account, roomId: string): Promise<any[]> {
  const marker = `marker-${randomUUID()}`;
  const r = await api.send(sender, roomId, marker);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  await watcher.next((f) => f.headers.subscription === 'watch' && f.json?.content === marker, 30_000, 'marker broadcast');
  const seen = watcher.messages((f) => f.headers.subscription === 'watch').map((f) => f.json);
  return seen
    .slice(
      0,
      seen.findIndex((m) => m?.content === marker),
    )
    .filter((m) => !String(m?.content).startsWith('marker-'));
}

/**
 * A room whose messages the persist consumer stores promptly. The broker is shared with other work and a
 * consumer group that is new may still be working through old records of some partitions (a room's partition is
 * its id mod the partition count): a probe message must be stored within a few seconds.
 */
async function persistingRoom(owner: Account, members: Account[]): Promise<string> {
  for (let i = 0; i < 8; i++) {
    const room = await api1.group(owner, members);
    expect((await api1.send(owner, room, 'probe')).status).toBe(202);
    const stored = await waitFor(
      async () => (await api1.call('GET', `/api/rooms/${room}/messages?afterSeq=0`, owner.token)).body?.messages?.length === 1,
      4000,
      'probe stored',
      100,
    ).then(
      () => true,
      () => false,
    );
    if (stored) return room;
  }
  throw new Error('no room whose messages are stored within 4 s: the persist consumer group is behind (see .stack/test-logs)');
}

async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        await fn(items[i]!, i);
      }
    }),
  );
}

async function connected(kind: 'tcp' | 'ws', srv: ServerProc, user: Account, localAddress?: string): Promise<RawConn> {
  const c = await openConn(kind, srv, localAddress);
  await c.connect(user.token);
  return c;
}

// --- membership at every moment ---------------------------------------------------------------------------------

describe('membership is enforced at every moment', () => {
  it('leave ends access on every instance within 1 s: subscriptions removed (connection open, no ERROR), room-removed sent', async () => {
    const [m, o] = take(2) as [Account, Account];
    const room = await api1.group(o, [m]);
    const setup = async (srv: ServerProc, user: Account, kind: 'tcp' | 'ws') => {
      const c = await connected(kind, srv, user);
      await c.subscribe(ROOM(room), 'room');
      await c.subscribe(EVENTS(room), 'events');
      await c.subscribe(USER_QUEUE, 'q');
      return c;
    };
    const [m1, m2, o1, o2] = await Promise.all([setup(s1, m, 'tcp'), setup(s2, m, 'ws'), setup(s1, o, 'ws'), setup(s2, o, 'tcp')]);
    // Control: before the leave, M gets the room's messages on both instances.
    expect((await api1.send(o, room, 'before-leave')).status).toBe(202);
    for (const c of [m1, m2, o1, o2]) await c.next((f) => f.command === 'MESSAGE' && f.json?.content === 'before-leave', 20_000, 'before-leave delivered');

    const leave = await api1.call('POST', `/api/rooms/${room}/leave`, m.token);
    expect(leave.status, JSON.stringify(leave.body)).toBe(200);
    const tL = Date.now();
    const since = { m1: m1.frames.length, m2: m2.frames.length };

    // room-removed {roomId, reason:'left'} on M's queue, on both connections, within 1 s of the leave's answer.
    const latency: number[] = [];
    for (const c of [m1, m2]) {
      const ev = await c.next((f) => isEvent(f, 'room-removed') && f.json?.roomId === room, Math.max(50, tL + 1000 - Date.now()), 'room-removed within 1 s');
      expect(ev.json).toEqual({ roomId: room, reason: 'left' });
      expect(ev.headers.subscription).toBe('q');
      latency.push(ev.at - tL);
    }
    // At 1 s after the leave, both subscriptions are gone from both sessions: their ids are free again (a SUBSCRIBE
    // reusing an id still registered is ERROR bad-frame "in use").
    await waitFor(() => Date.now() >= tL + 1000, 2000, 'one second after the leave', 5);
    for (const c of [m1, m2]) {
      await c.subscribe(USER_QUEUE, 'room');
      await c.subscribe(USER_QUEUE, 'events');
    }
    // A marker message and a typing event from another member reach O's subscriptions on both instances, not M's.
    expect((await api2.send(o, room, 'after-leave')).status).toBe(202);
    o2.send('SEND', { destination: EVENTS(room) }, 'typing');
    for (const c of [o1, o2]) {
      await c.next((f) => f.headers.subscription === 'room' && f.json?.content === 'after-leave', 20_000, 'marker reached O');
      await c.next((f) => f.headers.subscription === 'events' && isEvent(f, 'typing'), 20_000, 'typing reached O');
      await c.next((f) => f.headers.subscription === 'events' && isEvent(f, 'member-left') && f.json?.userId === m.id, 5000, 'member-left reached O');
    }
    for (const [c, from] of [
      [m1, since.m1],
      [m2, since.m2],
    ] as const) {
      const leaked = c.frames
        .slice(from)
        .filter((f) => f.command === 'MESSAGE' && (f.headers.destination === ROOM(room) || f.headers.destination === EVENTS(room)));
      expect(
        leaked.map((f) => `${f.headers['event-type'] ?? 'message'} ${f.text.slice(0, 60)}`),
        'nothing of the room after the leave',
      ).toEqual([]);
      expect(c.frames.filter((f) => f.command === 'ERROR')).toEqual([]);
      expect(c.isClosed, 'the connection stays open').toBe(false);
    }
    const removedCount = [m1, m2].map((c) => c.frames.filter((f) => isEvent(f, 'room-removed')).length);
    console.log(`[leave] room-removed after ${latency.join(', ')} ms; room-removed events per connection: ${removedCount.join(', ')}`);
    expect((await api2.call('GET', `/api/rooms/${room}/messages`, m.token)).status).toBe(403);
  });

  it('no SEND of a leaver is accepted once the leave returned: STOMP on both instances, typing, read, a transaction, REST', async () => {
    const [m, o] = take(2) as [Account, Account];
    for (let round = 0; round < 3; round++) {
      const room = await api1.group(o, [m]);
      const watcher = await watch(s2, o, room);
      const [c1, c2, cTyping, cRead, cTx] = await Promise.all([
        connected('tcp', s1, m),
        connected('ws', s2, m),
        connected('tcp', s2, m),
        connected('ws', s1, m),
        connected('tcp', s2, m),
      ]);
      // A transaction with a SEND in it, opened while still a member (the ACK's RECEIPT says both were handled).
      cTx.send('BEGIN', { transaction: 't' });
      cTx.send('SEND', { destination: ROOM(room), transaction: 't', receipt: 'tx-send' }, `tx-${round}`);
      cTx.send('ACK', { id: 'none', receipt: 'barrier' });
      await cTx.receipt('barrier');

      const leave = await api1.call('POST', `/api/rooms/${room}/leave`, m.token);
      expect(leave.status).toBe(200);
      // At once, on both instances.
      c1.send('SEND', { destination: ROOM(room), receipt: 's1' }, `stomp-s1-${round}`);
      c2.send('SEND', { destination: ROOM(room), receipt: 's2' }, `stomp-s2-${round}`);
      cTyping.send('SEND', { destination: EVENTS(room), receipt: 'ty' }, 'typing');
      cRead.send('SEND', { destination: `/app/rooms.${room}.read`, receipt: 'rd' }, '{"seq":"1"}');
      cTx.send('COMMIT', { transaction: 't', receipt: 'commit' });
      const [r1, r2] = await Promise.all([api1.send(m, room, `rest-s1-${round}`), api2.send(m, room, `rest-s2-${round}`)]);
      for (const c of [c1, c2, cTyping, cRead, cTx]) {
        const err = await c.error();
        expect(err.headers.message, c.describe()).toBe('forbidden');
        expect(
          c.frames.filter((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] !== 'barrier'),
          c.describe(),
        ).toEqual([]);
      }
      for (const r of [r1, r2]) {
        expect(r.status, JSON.stringify(r.body)).toBe(403);
        expect(r.body.error.code).toBe('forbidden');
      }
      expect(await appendedBefore(watcher, api2, o, room)).toEqual([]);
      watcher.destroy();
    }
  });

  it('a member who leaves while sending on both instances (membership leases live): no send accepted or stored once the leave returned', async () => {
    const [m, o] = take(2) as [Account, Account];
    const room = await api1.group(o, [m]);
    const watcher = await watch(s2, o, room);
    const results: Array<{ text: string; started: number; status: number }> = [];
    let stop = false;
    // Paced below the per-user send rate limit; each loop one request at a time.
    const sender = async (api: Api, tag: string) => {
      for (let i = 0; !stop; i++) {
        const text = `${tag}-${i}`;
        const started = Date.now();
        const r = await api.send(m, room, text);
        results.push({ text, started, status: r.status });
        await new Promise((res) => setTimeout(res, 15));
      }
    };
    const loops = [sender(api1, 'one'), sender(api2, 'two')];
    const accepted = (tag: string) => results.filter((r) => r.text.startsWith(tag) && r.status === 202).length;
    // Both instances hold a lease now (a send within the last 2 s passed on it).
    await waitFor(() => accepted('one') >= 5 && accepted('two') >= 5, 20_000, 'sends accepted on both instances');
    const leaveAt = Date.now();
    const leave = await api2.call('POST', `/api/rooms/${room}/leave`, m.token);
    const tL = Date.now();
    expect(leave.status).toBe(200);
    const refusedAfter = (tag: string) => results.some((r) => r.text.startsWith(tag) && r.started >= tL && r.status === 403);
    await waitFor(() => refusedAfter('one') && refusedAfter('two'), 10_000, 'a send refused on each instance after the leave');
    stop = true;
    await Promise.all(loops);
    const late = results.filter((r) => r.started >= tL);
    expect(late.filter((r) => r.status !== 403)).toEqual([]);
    const seen = (await appendedBefore(watcher, api1, o, room)).map((msg) => msg.content);
    const lateTexts = new Set(late.map((r) => r.text));
    expect(
      seen.filter((t) => lateTexts.has(t)),
      'stored after the leave returned',
    ).toEqual([]);
    expect(seen).toEqual(expect.arrayContaining(results.filter((r) => r.status === 202).map((r) => r.text)));
    const statuses = [...new Set(results.map((r) => r.status))].map((s) => `${s}: ${results.filter((r) => r.status === s).length}`);
    console.log(
      `[leave while sending] sends by status ${statuses.join(', ')}; ${late.length} after the leave (all refused); the leave took ${tL - leaveAt} ms`,
    );
    watcher.destroy();
  });

  it('non-canonical room ids are refused at the edge: /topic/rooms.0R, .00R (SEND, SUBSCRIBE) and /api/rooms/00R; nothing stored', async () => {
    const [m, o] = take(2) as [Account, Account];
    const room = await api1.group(o, [m]);
    const listener = await watch(s2, o, room);
    const destinations = [
      `/topic/rooms.0${room}`,
      `/topic/rooms.00${room}`,
      `/topic/rooms.0${room}.events`,
      `/topic/rooms.00${room}.events`,
      `/app/rooms.0${room}.read`,
    ];
    const cases = destinations.flatMap((d) => (['SEND', 'SUBSCRIBE'] as const).map((command) => ({ d, command })));
    await inParallel(cases, 5, async ({ d, command }, i) => {
      const c = await connected(i % 2 ? 'ws' : 'tcp', i % 3 ? s1 : s2, m);
      if (command === 'SEND') c.send('SEND', { destination: d, receipt: 'x' }, d.endsWith('.read') ? '{"seq":"1"}' : `variant ${d}`);
      else c.send('SUBSCRIBE', { destination: d, id: 'v', receipt: 'x' });
      const err = await c.error();
      expect(err.headers.message, `${command} ${d}`).toBe('unknown-destination');
      expect(err.headers['receipt-id']).toBe('x');
      expect(c.frames.filter((f) => f.command === 'RECEIPT')).toEqual([]);
    });
    const wrong: string[] = [];
    for (const id of [`0${room}`, `00${room}`]) {
      for (const [method, path, body] of [
        ['POST', `/api/rooms/${id}/messages`, { content: `rest variant ${id}` }],
        ['GET', `/api/rooms/${id}/messages`, undefined],
        ['GET', `/api/rooms/${id}`, undefined],
        ['POST', `/api/rooms/${id}/read`, { seq: '1' }],
        ['POST', `/api/rooms/${id}/leave`, undefined],
      ] as const) {
        const r = await api1.call(method, path, m.token, body);
        if (r.status !== 400 || r.body?.error?.code !== 'invalid-request' || r.body?.error?.field !== 'id')
          wrong.push(`${method} ${path} -> ${r.status} ${JSON.stringify(r.body)}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(await appendedBefore(listener, api1, o, room)).toEqual([]);
    // Still a member: the canonical spelling works.
    const ok = await api1.send(m, room, 'canonical');
    expect(ok.status).toBe(202);
  });
});

// --- lifecycles that cannot outlive the connection --------------------------------------------------------------

describe('sessions and subscriptions never outlive their connection', () => {
  it('300 connections that CONNECT and close at once (TCP and WebSocket, with and without a wait) leave no session and the user goes OFFLINE', async () => {
    const [z] = take(1) as [Account];
    const sessionsBefore = await Promise.all([s1, s2].map((s) => metricSum(s, 'chat_sessions_active')));
    const connectFrame = encodeFrame('CONNECT', { 'accept-version': '1.2', host: '/', Authorization: `Bearer ${z.token}` });
    const outcomes: Record<string, number> = {};
    await inParallel(
      Array.from({ length: 300 }, (_, i) => i),
      16,
      async (i) => {
        const kind = i % 2 ? 'ws' : 'tcp';
        const srv = i % 4 < 2 ? s1 : s2;
        const mode = Math.floor(i / 4) % 4; // 0: close at once, 1: after a few ms, 2: on CONNECTED, 3: a few ms after CONNECTED
        let c: RawConn;
        try {
          c = await openConn(kind, srv, freshIp());
        } catch {
          outcomes.refused = (outcomes.refused ?? 0) + 1;
          return;
        }
        c.write(connectFrame);
        if (mode === 1) await new Promise((r) => setTimeout(r, 1 + (i % 7)));
        if (mode >= 2) await c.next((f) => f.command === 'CONNECTED', 15_000, 'CONNECTED').catch(() => undefined);
        if (mode === 3) await new Promise((r) => setTimeout(r, 1 + (i % 5)));
        c.destroy();
        outcomes[`mode${mode}`] = (outcomes[`mode${mode}`] ?? 0) + 1;
      },
    );
    console.log('[connect-then-close] outcomes', outcomes);
    expect(outcomes.refused ?? 0).toBe(0);
    // Nothing registered: the gauge is back where it was, the user's presence set in Redis is empty, and the user
    // is announced OFFLINE (after the ~1.5 s grace; a zombie would be refreshed every PRESENCE_TTL_MS/3 forever).
    await waitFor(
      async () => (await Promise.all([s1, s2].map((s) => metricSum(s, 'chat_sessions_active')))).every((v, k) => v <= sessionsBefore[k]!),
      10_000,
      'chat_sessions_active back to its value before',
      100,
    );
    const me = await waitFor(
      async () => {
        const r = await api1.call('GET', '/api/users/me', z.token);
        return r.body?.status === 'OFFLINE' ? r.body : null;
      },
      LIMITS.PRESENCE_TTL_MS * 2 + 6000,
      'user OFFLINE',
      200,
    );
    expect(me.status).toBe('OFFLINE');
    expect(await redis.zcard(`chat:presence:${z.id}`)).toBe(0);
  }, 90_000);

  it('200 clients that SUBSCRIBE and close while the subscription is being checked leave no Redis channel subscribed', async () => {
    const [u] = take(1) as [Account];
    const rooms: string[] = [];
    await inParallel(
      Array.from({ length: 20 }, (_, i) => i),
      4,
      async () => void rooms.push(await api1.group(u, [])),
    );
    const connect = encodeFrame('CONNECT', { 'accept-version': '1.2', host: '/', Authorization: `Bearer ${u.token}` });
    const variants = [
      (r: string) => encodeFrame('SUBSCRIBE', { destination: ROOM(r), id: 'a', receipt: 'ra' }),
      (r: string) => encodeFrame('SUBSCRIBE', { destination: ROOM(r), id: 'b', 'since-seq': '0' }),
      (r: string) => encodeFrame('SUBSCRIBE', { destination: ROOM(r), id: 'c', ack: 'client-individual' }),
      (r: string) => encodeFrame('SUBSCRIBE', { destination: EVENTS(r), id: 'd' }),
    ];
    const sessionsBefore = await Promise.all([s1, s2].map((s) => metricSum(s, 'chat_sessions_active')));
    let receiptsSeen = 0;
    await inParallel(
      Array.from({ length: 200 }, (_, i) => i),
      16,
      async (i) => {
        const room = rooms[i % rooms.length]!;
        const c = await openConn(i % 2 ? 'ws' : 'tcp', i % 4 < 2 ? s1 : s2, freshIp());
        const subs = Buffer.concat(variants.map((v) => v(room)));
        const mode = Math.floor(i / 4) % 3;
        if (mode === 0) {
          // CONNECT and SUBSCRIBEs in one write, closed at once.
          c.write(Buffer.concat([connect, subs]));
        } else {
          c.write(connect);
          await c.next((f) => f.command === 'CONNECTED', 15_000, 'CONNECTED');
          c.write(subs);
          // mode 2: a few ms later (the membership and ack-point lookups are in flight)
          if (mode === 2) await new Promise((r) => setTimeout(r, i % 4));
        }
        c.destroy();
        if (c.frames.some((f) => f.command === 'RECEIPT')) receiptsSeen++;
      },
    );
    const channels = rooms.flatMap((r) => [`chat:room:${r}`, `chat:room-events:${r}`]);
    const subscribed = async () => {
      const flat = (await redis.pubsub('NUMSUB', ...channels)) as Array<string | number>;
      const out: string[] = [];
      for (let k = 0; k < flat.length; k += 2) if (Number(flat[k + 1]) > 0) out.push(`${flat[k]}=${flat[k + 1]}`);
      return out;
    };
    await waitFor(async () => (await subscribed()).length === 0, 8000, 'every channel unsubscribed', 100).catch(async (err: Error) => {
      throw new Error(`${err.message}; still subscribed: ${(await subscribed()).join(' ')}`);
    });
    await waitFor(
      async () => (await Promise.all([s1, s2].map((s) => metricSum(s, 'chat_sessions_active')))).every((v, k) => v <= sessionsBefore[k]!),
      10_000,
      'sessions gone',
      100,
    );
    console.log(`[subscribe-then-close] 200 clients, ${receiptsSeen} saw a RECEIPT before closing; channels left subscribed: 0`);
    // The channels work again for a real subscriber (nothing stuck in the hub).
    const c = await connected('tcp', s1, u);
    await c.subscribe(ROOM(rooms[0]!), 'live');
    expect((await api1.send(u, rooms[0]!, 'after')).status).toBe(202);
    await c.next((f) => f.json?.content === 'after', 20_000, 'live message');
    c.destroy();
  }, 90_000);

  it(`unauthenticated connections per address are capped at MAX_PENDING_PER_IP (${LIMITS.MAX_PENDING_PER_IP}), TCP and WebSocket together`, async () => {
    const [u] = take(1) as [Account];
    const ip = freshIp();
    const idle = await Promise.all(Array.from({ length: LIMITS.MAX_PENDING_PER_IP }, (_, i) => openConn(i % 2 ? 'ws' : 'tcp', s1, ip)));
    // One more from the same address: closed at once (TCP) or refused at the upgrade (WebSocket).
    const t0 = Date.now();
    const extraTcp = await openConn('tcp', s1, ip);
    await withDeadline(extraTcp.closed, 1000, 'connection over the cap closed at once');
    const extraWs = await openConn('ws', s1, ip).then(
      (c) => c,
      (err: Error) => err,
    );
    expect(extraWs instanceof Error ? extraWs.message : 'accepted').toMatch(/503|Unexpected server response/);
    console.log(`[pending cap] connection ${LIMITS.MAX_PENDING_PER_IP + 1} closed after ${extraTcp.closedAt! - t0} ms`);
    expect(idle.filter((c) => c.isClosed).length, 'idle connections within the cap stay open').toBe(0);
    // Another address is not affected; an authenticated connection frees its slot.
    const other = await connected('tcp', s1, u, freshIp());
    await idle[0]!.connect(u.token);
    const again = await openConn('tcp', s1, ip);
    await again.connect(u.token);
    expect(again.isClosed).toBe(false);
    expect((await fetch(`${s1.baseUrl}/healthz`)).status).toBe(200);
    for (const c of [...idle, other, again]) c.destroy();
  });
});

/**
 * Three users of one room, each on its own connection to `srv`, fill every transaction they may open
 * (MAX_TRANSACTIONS x MAX_TRANSACTION_FRAMES SENDs, the bytes of each from `sendFrame`), then a barrier. Returns the
 * SENDs held open (by connections the server did not cut off) and what the server retained meanwhile (after GC).
 */
async function fillTransactions(
  kind: 'tcp' | 'ws',
  srv: ServerProc,
  sendFrame: (room: string, t: number, i: number) => Buffer,
): Promise<{ held: number; retainedMiB: number; memory: string }> {
  const users = take(3);
  const room = await api1.group(users[0]!, users.slice(1));
  const attempt = async (user: Account) => {
    const c = await connected(kind, srv, user);
    let held = 0;
    for (let t = 0; t < LIMITS.MAX_TRANSACTIONS && !c.isClosed; t++) {
      c.send('BEGIN', { transaction: `t${t}` });
      for (let i = 0; i < LIMITS.MAX_TRANSACTION_FRAMES && !c.isClosed; i++) {
        await c.writeAsync(sendFrame(room, t, i));
        held++;
      }
    }
    c.send('ACK', { id: 'none', receipt: 'barrier' });
    await c.next((f) => f.command === 'ERROR' || (f.command === 'RECEIPT' && f.headers['receipt-id'] === 'barrier'), 30_000, 'attempt handled');
    return { c, held };
  };
  const before = await retainedBytes(srv);
  const rssBefore = rssOf(srv);
  const results = await Promise.all(users.map((u) => attempt(u)));
  const rssAfter = rssOf(srv);
  const after = await retainedBytes(srv);
  for (const r of results) r.c.destroy();
  return {
    held: results.reduce((n, r) => n + (r.c.frames.some((f) => f.command === 'ERROR') ? 0 : r.held), 0),
    retainedMiB: (after - before) / MB,
    memory: `retained after GC ${(before / MB).toFixed(1)} -> ${(after / MB).toFixed(1)} MiB; RSS ${(rssBefore / MB).toFixed(1)} -> ${(rssAfter / MB).toFixed(1)} MiB`,
  };
}

// --- budgets of one connection --------------------------------------------------------------------------------

describe('per-connection budgets', () => {
  it(`a transaction over MAX_TRANSACTION_FRAMES (${LIMITS.MAX_TRANSACTION_FRAMES}) or MAX_TRANSACTION_BYTES (${LIMITS.MAX_TRANSACTION_BYTES}) is ERROR bad-frame; nothing stored`, async () => {
    const [a, b] = take(2) as [Account, Account];
    const room = await api1.group(a, [b]);
    const watcher = await watch(s2, a, room);
    // Frames: one SEND more than allowed.
    const c1 = await connected('tcp', s1, a);
    c1.send('BEGIN', { transaction: 't' });
    for (let i = 0; i <= LIMITS.MAX_TRANSACTION_FRAMES; i++) c1.send('SEND', { destination: ROOM(room), transaction: 't', receipt: `f${i}` }, `frame ${i}`);
    const e1 = await c1.error();
    expect(e1.headers.message).toBe('bad-frame');
    expect(e1.headers['receipt-id']).toBe(`f${LIMITS.MAX_TRANSACTION_FRAMES}`);
    // Bytes: 4 KiB contents until the budget is exceeded.
    const c2 = await connected('ws', s2, b);
    const big = 'y'.repeat(4096);
    const fits = Math.floor(LIMITS.MAX_TRANSACTION_BYTES / 4096);
    c2.send('BEGIN', { transaction: 't' });
    for (let i = 0; i <= fits; i++) c2.send('SEND', { destination: ROOM(room), transaction: 't', receipt: `b${i}` }, big);
    const e2 = await c2.error();
    expect(e2.headers.message).toBe('bad-frame');
    expect(e2.headers['receipt-id']).toBe(`b${fits}`);
    // Open transactions: one more than MAX_TRANSACTIONS.
    const c3 = await connected('tcp', s2, a);
    for (let i = 0; i <= LIMITS.MAX_TRANSACTIONS; i++) c3.send('BEGIN', { transaction: `t${i}`, receipt: `t${i}` });
    const e3 = await c3.error();
    expect(e3.headers.message).toBe('bad-frame');
    expect(e3.headers['receipt-id']).toBe(`t${LIMITS.MAX_TRANSACTIONS}`);
    expect(c3.frames.filter((f) => f.command === 'RECEIPT')).toHaveLength(LIMITS.MAX_TRANSACTIONS);
    expect(await appendedBefore(watcher, api1, a, room)).toEqual([]);
  });

  it('what a transaction holds stays within the documented bound: 3 connections filling their transactions with 60 KiB JSON bodies of 1 character of content', async () => {
    // {"content":"x"} padded with JSON whitespace: 60 KiB of body, 1 byte of content (what MAX_TRANSACTION_BYTES counts).
    const body = `{"content":"x"${' '.repeat(60 * 1024)}}`;
    const m = await fillTransactions('tcp', s1, (room, t) =>
      encodeFrame('SEND', { destination: ROOM(room), transaction: `t${t}`, 'content-type': 'application/json' }, body),
    );
    // API.md: one connection holds at most MAX_OUTBOX_BYTES + MAX_TRANSACTIONS x MAX_TRANSACTION_BYTES + one chunk.
    console.log(
      `[transactions, JSON padding] ${m.held} SENDs of ${body.length} bytes held open by 3 connections (${((m.held * body.length) / MB).toFixed(1)} MiB of bodies; documented bound per connection ${((LIMITS.MAX_TRANSACTIONS * LIMITS.MAX_TRANSACTION_BYTES) / MB).toFixed(2)} MiB + one chunk): ${m.memory}`,
    );
    expect(m.retainedMiB, 'memory retained (MiB, after GC) while 3 connections hold full transactions').toBeLessThan(4);
  }, 60_000);

  it('what a transaction holds stays within the documented bound: 3 connections filling their transactions, each SEND in a 200 KiB WebSocket message (the frame, then heart-beat EOLs)', async () => {
    // Every SEND arrives in its own 200 KiB WebSocket message: the frame, then heart-beat EOLs (legal between frames).
    const pad = Buffer.alloc(200 * 1024, 0x0a);
    const m = await fillTransactions('ws', s2, (room, t, i) =>
      Buffer.concat([encodeFrame('SEND', { destination: ROOM(room), transaction: `t${t}` }, `m${t}.${i}`), pad]),
    );
    console.log(
      `[transactions, chunk padding] ${m.held} SENDs (${((m.held * 200) / 1024).toFixed(1)} MiB on the wire) held in open transactions by 3 connections: ${m.memory}`,
    );
    expect(m.retainedMiB, 'memory retained (MiB, after GC) while 3 connections hold full transactions').toBeLessThan(4);
  }, 60_000);

  it('a flood of cheap frames (100,000 BEGIN/ABORT over TCP, 100,000 ACK over WebSocket) is throttled to RATE_FRAMES_PER_SEC; ERROR rate-limited, if any, only after RATE_ABUSE_MS', async () => {
    const [a, b] = take(2) as [Account, Account];
    const rssBefore = rssOf(s1);
    const OBSERVE_MS = 6000;
    const flood = async (kind: 'tcp' | 'ws', user: Account, frame: (i: number) => Buffer) => {
      const c = await connected(kind, s1, user);
      const N = 100_000;
      const PER_WRITE = 1000;
      const t0 = Date.now();
      for (let i = 0; i < N && !c.isClosed && Date.now() - t0 < OBSERVE_MS; i += PER_WRITE) {
        const chunk: Buffer[] = [];
        for (let k = i; k < i + PER_WRITE; k++) chunk.push(frame(k));
        // Not awaited past a bound: a throttled connection stops reading and our writes back up.
        await Promise.race([c.writeAsync(Buffer.concat(chunk)), c.closed, new Promise((r) => setTimeout(r, 200))]);
      }
      // Observe until the ERROR or the end of the window: 100,000 frames at the rate would need 50 s.
      const err = await c.error(Math.max(100, t0 + OBSERVE_MS - Date.now())).catch(() => null);
      const elapsed = (err?.at ?? Date.now()) - t0;
      // Every 100th frame asked for a RECEIPT: RECEIPTs x 100 = frames handled.
      const handled = c.frames.filter((f) => f.command === 'RECEIPT').length * 100;
      c.destroy();
      return { error: err?.headers.message ?? null, elapsed, handled };
    };
    const [tcp, ws] = await Promise.all([
      flood('tcp', a, (i) =>
        i % 2 === 0
          ? encodeFrame('BEGIN', { transaction: 'x' })
          : encodeFrame('ABORT', { transaction: 'x', ...((i + 1) % 100 === 0 ? { receipt: `r${i}` } : {}) }),
      ),
      flood('ws', b, (i) => encodeFrame('ACK', { id: `nope-${i}`, ...((i + 1) % 100 === 0 ? { receipt: `r${i}` } : {}) })),
    ]);
    const rssAfter = rssOf(s1);
    console.log(
      `[cheap-frame flood] tcp ${JSON.stringify(tcp)} ws ${JSON.stringify(ws)} RSS ${(rssBefore / MB).toFixed(1)} -> ${(rssAfter / MB).toFixed(1)} MiB`,
    );
    for (const r of [tcp, ws]) {
      if (r.error !== null) {
        expect(r.error).toBe('rate-limited');
        expect(r.elapsed).toBeGreaterThanOrEqual(LIMITS.RATE_ABUSE_MS - 100);
      }
      // Reading stops while over the rate: at most the burst, the rate over the time, and what one read held.
      const bound = LIMITS.RATE_FRAMES_BURST + (LIMITS.RATE_FRAMES_PER_SEC * r.elapsed) / 1000 + 5000;
      expect(r.handled, `frames handled in ${r.elapsed} ms`).toBeLessThanOrEqual(bound);
      expect(r.handled, 'the connection was served meanwhile').toBeGreaterThan(0);
    }
    expect((rssAfter - rssBefore) / MB).toBeLessThan(32);
  }, 60_000);

  it('a STOMP session ends at its token exp: ERROR unauthorized (TCP and WebSocket)', async () => {
    const [a] = take(1) as [Account];
    const room = await api1.group(a, []);
    await Promise.all(
      (['tcp', 'ws'] as const).map(async (kind, k) => {
        const exp = Math.floor(Date.now() / 1000) + 3;
        const token = jwt.sign({ sub: a.id, exp }, DEV_SECRET, { algorithm: 'HS256' });
        const c = await openConn(kind, k ? s2 : s1);
        await c.connect(token);
        await c.subscribe(ROOM(room), 's');
        c.send('SEND', { destination: ROOM(room), receipt: 'before' }, `before exp ${kind}`);
        await c.receipt('before');
        const err = await c.error(10_000);
        expect(err.headers.message).toBe('unauthorized');
        expect(err.at, 'not before exp').toBeGreaterThanOrEqual(exp * 1000 - 50);
        expect(err.at - exp * 1000, 'soon after exp').toBeLessThan(1500);
        await withDeadline(c.closed, 5000, 'closed after ERROR');
        c.destroy();
      }),
    );
  });

  it('a SEND flood over the rate is slowed, every accepted SEND gets its RECEIPT, ERROR rate-limited (if any) only after RATE_ABUSE_MS', async () => {
    const [a, w] = take(2) as [Account, Account];
    const room = await api1.group(a, [w]);
    const watcher = await watch(s2, w, room);
    const c = await connected('tcp', s1, a);
    const body = 'f'.repeat(1000);
    const N = 1500;
    const OBSERVE_MS = 6000;
    const t0 = Date.now();
    for (let i = 0; i < N && !c.isClosed; i += 50) {
      const chunk = Buffer.concat(
        Array.from({ length: 50 }, (_, k) => encodeFrame('SEND', { destination: ROOM(room), receipt: `s${i + k}` }, `${i + k} ${body}`)),
      );
      await Promise.race([c.writeAsync(chunk), c.closed, new Promise((r) => setTimeout(r, 200))]);
    }
    // 1,500 SENDs at 100/s would take 15 s: the end is ERROR rate-limited (sustained abuse) or the observation window.
    const err = await c.error(Math.max(100, t0 + OBSERVE_MS - Date.now())).catch(() => null);
    const elapsed = (err?.at ?? Date.now()) - t0;
    if (err) {
      expect(err.headers.message).toBe('rate-limited');
      expect(elapsed).toBeGreaterThanOrEqual(LIMITS.RATE_ABUSE_MS - 100);
      await withDeadline(c.closed, 5000, 'closed after ERROR');
      expect(c.frames[c.frames.length - 1]!.command, 'the ERROR comes after every RECEIPT').toBe('ERROR');
    }
    c.destroy();
    const receipts = c.frames.filter((f) => f.command === 'RECEIPT').map((f) => f.headers['message-id']);
    const appended = (await appendedBefore(watcher, api1, w, room)).map((m) => m.id as string);
    // Ended by ERROR: exactly what was acknowledged was appended. Cut by us: every RECEIPT names an appended message
    // (the few accepted in the last moments may still be waiting for theirs).
    if (err) expect(new Set(appended), 'appended == acknowledged').toEqual(new Set(receipts));
    else expect(receipts.filter((id) => !appended.includes(id!))).toEqual([]);
    // Slowed: the burst, the rate over the time, and what the connection had read ahead (up to MAX_PENDING_FRAMES=256
    // decoded frames waiting plus one 64 KiB read: see the overdraw test below).
    const bound = LIMITS.RATE_USER_BURST + (LIMITS.RATE_USER_PER_SEC * elapsed) / 1000 + 256 + 64;
    console.log(
      `[send flood] ${appended.length} of ${N} SENDs accepted, ${receipts.length} RECEIPTs, in ${elapsed} ms, ended by ${err ? 'ERROR rate-limited' : 'the end of the observation window (no ERROR)'} (bound ${Math.round(bound)})`,
    );
    expect(appended.length).toBeLessThanOrEqual(bound);
  }, 60_000);

  it('the per-user SEND rate is cluster-wide: one user sending on two instances at once is held to ~RATE_USER_PER_SEC in total', async () => {
    const [u, w] = take(2) as [Account, Account];
    const room = await api1.group(u, [w]);
    const watcher = await watch(s1, w, room);
    const [a, b] = await Promise.all([connected('tcp', s1, u), connected('ws', s2, u)]);
    const WINDOW_MS = 2000;
    const offeredPerSec = 300;
    let n = 0;
    const t0 = Date.now();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const due = Math.floor(((Date.now() - t0) * offeredPerSec) / 1000);
        for (const [c, label] of [
          [a, 'A'],
          [b, 'B'],
        ] as const) {
          const frames: Buffer[] = [];
          // 4 KiB bodies: a read of the socket holds few frames (see the next test for what one read may hold).
          for (let k = n; k < due; k++) frames.push(encodeFrame('SEND', { destination: ROOM(room) }, `${label} ${k} ${'c'.repeat(4000)}`));
          if (frames.length) c.write(Buffer.concat(frames));
        }
        n = due;
        if (Date.now() - t0 >= WINDOW_MS + 500) {
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
    a.destroy();
    b.destroy();
    const all = await appendedBefore(watcher, api1, w, room);
    const times = all.map((m) => Date.parse(m.createdAt)).sort((x, y) => x - y);
    const first = times[0]!;
    const inWindow = times.filter((t) => t < first + WINDOW_MS).length;
    const perSec = LIMITS.RATE_USER_PER_SEC;
    const clusterBound = perSec * (WINDOW_MS / 1000) + 2 * LIMITS.RATE_USER_BURST + 2 * perSec * 0.2;
    const perInstance = 2 * (LIMITS.RATE_USER_BURST + (perSec * WINDOW_MS) / 1000);
    console.log(
      `[cluster rate] offered ${offeredPerSec}/s on each of 2 instances; accepted in the first ${WINDOW_MS} ms: ${inWindow} (cluster-wide bound ${clusterBound}; a per-instance limit allows ${perInstance}); appended in all ${times.length}`,
    );
    expect(inWindow).toBeGreaterThanOrEqual(((perSec * WINDOW_MS) / 1000) * 0.5);
    expect(inWindow).toBeLessThanOrEqual(Math.round((clusterBound + perInstance) / 2));
  }, 60_000);

  it("a user's SEND budget is not overdrawn by one read's worth of frames: 5 connections each writing 200 small SENDs at once", async () => {
    const [u, w] = take(2) as [Account, Account];
    const room = await api1.group(u, [w]);
    const watcher = await watch(s2, w, room);
    const conns = await Promise.all([0, 1, 2, 3, 4].map((i) => connected(i % 2 ? 'ws' : 'tcp', i < 3 ? s1 : s2, u)));
    const t0 = Date.now();
    // Each connection: one write of 200 SENDs of ~60 bytes (12 KiB: one TCP read, one WebSocket message).
    conns.forEach((c, i) => c.write(Buffer.concat(Array.from({ length: 200 }, (_, k) => encodeFrame('SEND', { destination: ROOM(room) }, `o${i}.${k}`)))));
    await waitFor(() => Date.now() >= t0 + 1500, 3000, 'measurement window', 10);
    for (const c of conns) c.destroy();
    const appended = await appendedBefore(watcher, api1, w, room);
    const times = appended.map((m) => Date.parse(m.createdAt)).sort((x, y) => x - y);
    const inFirstSecond = times.filter((t) => t < (times[0] ?? 0) + 1000).length;
    // The connections are on both instances: each may spend its local burst before the 200 ms sync of the shared
    // bucket tells it about the other's sends (as in the cluster-rate test above), and on this 2-core machine under
    // a full suite a sync timer fires up to ~300 ms late (seen: 254 and 267 against a bound without it of 240).
    // Overdrawn by one read's worth of frames, it would be ~1,000.
    const syncSeconds = 0.2 + 0.3;
    const bound = 2 * LIMITS.RATE_USER_BURST + LIMITS.RATE_USER_PER_SEC + 2 * LIMITS.RATE_USER_PER_SEC * syncSeconds;
    console.log(
      `[overdraw] 5 connections x 200 SENDs in one write each: ${appended.length} appended in the 1.5 s window, ${inFirstSecond} within the first second (2 instances x RATE_USER_BURST ${LIMITS.RATE_USER_BURST} + RATE_USER_PER_SEC ${LIMITS.RATE_USER_PER_SEC}/s + 2 syncs: bound ${bound})`,
    );
    expect(inFirstSecond).toBeLessThanOrEqual(bound);
  });

  it(`client-individual: unacknowledged MESSAGEs per subscription are capped at MAX_UNACKED (${LIMITS.MAX_UNACKED}); each ACK lets one more through`, async () => {
    const [sender, reader] = take(2) as [Account, Account];
    // Messages past the window are delivered from the store once acknowledged.
    const room = await persistingRoom(sender, [reader]);
    const sub = await connected('tcp', s2, reader);
    await sub.subscribe(ROOM(room), 'ci', { ack: 'client-individual' });
    const watcher = await connected('ws', s2, sender);
    await watcher.subscribe(ROOM(room), 'w');
    const tx = await connected('tcp', s1, sender);
    const N = 30;
    for (let i = 0; i < N; i++) tx.send('SEND', { destination: ROOM(room), receipt: `m${i}` }, `u${i}`);
    await tx.receipt(`m${N - 1}`);
    // The watcher on the same instance got all 30 (so the hub offered all 30 to the capped subscription too).
    await waitFor(() => watcher.messages().length >= N, 20_000, 'watcher got every message');
    const got = () => sub.messages((f) => f.headers.subscription === 'ci');
    await waitFor(() => got().length >= LIMITS.MAX_UNACKED, 10_000, 'window filled');
    sub.send('ACK', { id: 'none', receipt: 'barrier' });
    await sub.receipt('barrier');
    expect(got().length, 'live delivery stops at the cap').toBe(LIMITS.MAX_UNACKED);
    // Acknowledge one in the middle (individual, not cumulative): exactly one more arrives.
    sub.send('ACK', { id: got()[5]!.headers.ack!, receipt: 'a1' });
    await sub.receipt('a1');
    await waitFor(() => got().length >= LIMITS.MAX_UNACKED + 1, 10_000, 'one more after one ACK');
    sub.send('ACK', { id: 'none', receipt: 'barrier2' });
    await sub.receipt('barrier2');
    expect(got().length).toBe(LIMITS.MAX_UNACKED + 1);
    // Acknowledge everything: the rest arrives, in order, each once.
    for (const f of got()) if (f !== got()[5]) sub.send('ACK', { id: f.headers.ack! });
    await waitFor(() => got().length >= N, 20_000, 'the rest after ACKs', 20);
    for (const f of got().slice(LIMITS.MAX_UNACKED + 1)) sub.send('ACK', { id: f.headers.ack! });
    sub.send('ACK', { id: 'none', receipt: 'barrier3' });
    await sub.receipt('barrier3');
    expect(got().map((f) => f.json.content)).toEqual(Array.from({ length: N }, (_, i) => `u${i}`));
    expect(sub.frames.filter((f) => f.command === 'ERROR')).toEqual([]);
  });

  it(`since-seq:0 replays are bounded: at most MAX_REPLAYS_PER_CONNECTION (${LIMITS.MAX_REPLAYS_PER_CONNECTION}) at once per connection, the rest wait; memory stays bounded`, async () => {
    const senders = take(10);
    const [v] = take(1) as [Account];
    const room = await persistingRoom(v, senders);
    const PER = 60;
    const total = senders.length * PER + 1; // + the probe
    await Promise.all(
      senders.map(async (s, k) => {
        const c = await connected('tcp', k % 2 ? s2 : s1, s);
        for (let i = 0; i < PER; i++) c.send('SEND', { destination: ROOM(room), receipt: `p${i}` }, `replay ${k}.${i} ${'r'.repeat(200)}`);
        await c.receipt(`p${PER - 1}`, 30_000);
        c.destroy();
      }),
    );
    const stored = await waitFor(
      async () => {
        const all = await api1.allMessages(v, room);
        return all.length >= total ? all : null;
      },
      30_000,
      'room stored',
      200,
    );
    const lastSeq = stored[stored.length - 1].seq as string;
    const rssBefore = rssOf(s1);
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssOf(s1))), 100);
    const SUBS = 8;
    const conns = await Promise.all([0, 1, 2].map(() => connected('tcp', s1, v)));
    try {
      for (const c of conns) {
        const frames: Buffer[] = [];
        for (let i = 0; i < SUBS; i++) frames.push(encodeFrame('SUBSCRIBE', { destination: ROOM(room), id: `s${i}`, 'since-seq': '0', receipt: `rs${i}` }));
        c.write(Buffer.concat(frames));
      }
      for (const c of conns) for (let i = 0; i < SUBS; i++) await c.receipt(`rs${i}`, 60_000);
    } finally {
      clearInterval(sampler);
    }
    for (const c of conns) {
      // Per connection the frames are in write order: count the replays in progress at every MESSAGE.
      const active = new Set<string>();
      let maxActive = 0;
      const count = new Map<string, number>();
      for (const f of c.frames) {
        if (f.command !== 'MESSAGE') continue;
        const s = f.headers.subscription!;
        active.add(s);
        count.set(s, (count.get(s) ?? 0) + 1);
        maxActive = Math.max(maxActive, active.size);
        if (f.headers.seq === lastSeq) active.delete(s);
      }
      expect(maxActive, 'replays in progress at once on one connection').toBeLessThanOrEqual(LIMITS.MAX_REPLAYS_PER_CONNECTION);
      for (let i = 0; i < SUBS; i++) {
        const r = c.frames.find((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === `rs${i}`)!;
        expect(r.headers['replayed-count']).toBe(String(total));
        expect(r.headers['replay-complete']).toBeUndefined();
        expect(count.get(`s${i}`)).toBe(total);
      }
    }
    console.log(
      `[replays] 3 connections x ${SUBS} since-seq:0 replays of ${total} messages: RSS ${(rssBefore / MB).toFixed(1)} MiB, peak +${((rssPeak - rssBefore) / MB).toFixed(1)} MiB`,
    );
    expect((rssPeak - rssBefore) / MB).toBeLessThan(64);
    for (const c of conns) c.destroy();
  }, 120_000);

  it('presence flapping: a user in 30 rooms connecting and disconnecting 40 times costs at most a few presence publishes', async () => {
    const [p] = take(1) as [Account];
    await inParallel(
      Array.from({ length: 30 }, (_, i) => i),
      4,
      async () => void (await api1.group(p, [])),
    );
    const sub = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
    const seen: Array<{ status: string; roomIds: number }> = [];
    try {
      sub.on('message', (_ch: string, payload: string) => {
        try {
          const m = JSON.parse(payload);
          if (m.k === 'p' && m.userId === p.id) seen.push({ status: m.status, roomIds: m.roomIds?.length ?? 0 });
        } catch {
          // not ours
        }
      });
      await sub.subscribe('chat:control');
      await inParallel(
        Array.from({ length: 40 }, (_, i) => i),
        2,
        async (i) => {
          const c = await connected(i % 2 ? 'ws' : 'tcp', i % 3 ? s1 : s2, p, freshIp());
          c.destroy();
        },
      );
      await waitFor(
        async () => (await api1.call('GET', '/api/users/me', p.token)).body?.status === 'OFFLINE' && seen.at(-1)?.status === 'OFFLINE',
        LIMITS.PRESENCE_TTL_MS * 2 + 6000,
        'OFFLINE announced',
        200,
      );
    } finally {
      sub.disconnect();
    }
    console.log(`[presence flapping] publishes for the user: ${JSON.stringify(seen)}`);
    expect(seen.length).toBeLessThanOrEqual(4);
    expect(seen[0]?.status).toBe('ONLINE');
    expect(seen.every((s) => s.roomIds === 30)).toBe(true);
  }, 60_000);
});

describe('afterwards', () => {
  it('both instances are alive and ready', async () => {
    for (const s of [s1, s2]) {
      expect(s.proc.exitCode).toBeNull();
      expect((await fetch(`${s.baseUrl}/readyz`)).status).toBe(200);
    }
  });
});
