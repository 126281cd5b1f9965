// Hostile STOMP clients against a live server, over TCP and WebSocket: garbage, mutated frames, oversized and
// endless headers and bodies, lying content-lengths, slowloris, a client that never reads. In every case the
// attacker gets an ERROR or is cut off within a bound, and two bystander sessions (WebSocket and TCP) keep a message
// round trip every 100 ms, never disconnected and never losing a ping. Each test stands on its own (the server and
// the bystanders are shared, made in beforeAll). Latency percentiles and server memory are measured here and
// printed, not asserted: they depend on what else the machine runs, so their bounds are bench material
// (`npm run bench -- fuzz` reports bystanders' p99 and server RSS over millions of hostile frames).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, type Account } from '../support/api.js';
import { sleep, startServer, waitFor, withDeadline, type ServerProc } from '../support/cluster.js';
import { Bystander } from '../support/bystander.js';
import { mutate, prng, randomBytes } from '../support/fuzz.js';
import { RawConn } from '../support/raw.js';
import { metric, scrape } from '../support/scrape.js';
import { latencyStats, type LatencyStats } from '../support/stats.js';

const MAX_OUTBOX_BYTES = 256 * 1024;
/** Each attack window lasts at least this long, so the bystanders get enough round trips to measure. */
const MIN_WINDOW_MS = 2000;
const ERROR_CLOSE_MS = 5000;
const MB = 1024 * 1024;

let srv: ServerProc;
let api: Api;
let attacker: Account;
let attackerRoom: string;
let bystanders: Bystander[] = [];
let rssBefore = 0;
let rssPeak = 0;
let rssTimer: NodeJS.Timeout | null = null;
/** The server's worst event-loop delay in the current attack window (from its /metrics, sampled every 500 ms). */
let serverLagMs = 0;
const allLatencies: number[] = [];
const allTyping: number[] = [];
const summary: Array<Record<string, string>> = [];
const open: RawConn[] = [];

const ROOM = (id: string) => `/topic/rooms.${id}`;
const rss = () => metric(srv.baseUrl, 'process_resident_memory_bytes');

async function attackConn(kind: 'tcp' | 'ws'): Promise<RawConn> {
  const c = await RawConn.open(kind, srv, { binary: true });
  open.push(c);
  return c;
}

/** Writes chunks until the server closes the connection (or `maxBytes`); returns the bytes written. */
async function stream(c: RawConn, next: (i: number) => Buffer, maxBytes: number): Promise<number> {
  let sent = 0;
  for (let i = 0; sent < maxBytes && !c.isClosed; i++) {
    const chunk = next(i);
    await Promise.race([c.writeAsync(chunk), c.closed, sleep(2000)]);
    sent += chunk.length;
  }
  return sent;
}

/** The attacker's fate: an ERROR with `code` (when given) as its last frame, and the close within `ms` of `since`. */
async function expectCutOff(c: RawConn, since: number, ms: number, code?: string): Promise<number> {
  const elapsed = await c.waitClosed(ms + 1000, since).catch(() => Infinity);
  expect(elapsed, `closed within ${ms} ms; frames ${c.describe()}`).toBeLessThanOrEqual(ms);
  expect(c.decodeError, 'server output is well-formed STOMP').toBeNull();
  if (code !== undefined) {
    const last = c.frames[c.frames.length - 1];
    expect(last?.command, `last frame; frames ${c.describe()}`).toBe('ERROR');
    expect(last?.headers.message).toBe(code);
    expect(last?.body.length).toBeGreaterThan(0);
  }
  return elapsed;
}

/**
 * One attacker per transport, and with `beforeAndAfterConnect` two (one that never CONNECTs, one that does first);
 * each runs `attack` and must then be cut off with an ERROR `code` within ERROR_CLOSE_MS.
 */
async function eachAttacker(beforeAndAfterConnect: boolean, code: string, attack: (c: RawConn) => Promise<void>): Promise<void> {
  await Promise.all(
    (['tcp', 'ws'] as const).flatMap((kind) =>
      (beforeAndAfterConnect ? [false, true] : [true]).map(async (authed) => {
        const c = await attackConn(kind);
        if (authed) await c.connect(attacker.token);
        const t0 = Date.now();
        await attack(c);
        await expectCutOff(c, t0, ERROR_CLOSE_MS, code);
      }),
    ),
  );
}

/** Runs an attack while both bystanders ping; checks and records their latency. */
async function underAttack(name: string, attack: () => Promise<void>): Promise<void> {
  for (const b of bystanders) {
    b.reset();
    b.run(100);
  }
  const t0 = Date.now();
  serverLagMs = 0;
  const ownLag = monitorEventLoopDelay({ resolution: 10 });
  ownLag.enable();
  try {
    await attack();
    const left = MIN_WINDOW_MS - (Date.now() - t0);
    if (left > 0) await sleep(left);
  } finally {
    for (const b of bystanders) await b.stop();
    ownLag.disable();
  }
  for (const b of bystanders) {
    allLatencies.push(...b.latencies);
    allTyping.push(...b.typingLatencies);
  }
  const fmt = (x: LatencyStats) => `n=${x.count} p50=${x.p50} p99=${x.p99} max=${x.max}`;
  const [ws, tcp] = bystanders.map((b) => b.stats());
  summary.push({
    attack: name,
    'ws message': fmt(ws!.message),
    'ws typing': fmt(ws!.typing),
    'tcp message': fmt(tcp!.message),
    'tcp typing': fmt(tcp!.typing),
    'server loop lag max': `${serverLagMs}`,
    'test loop lag max': `${Math.round(ownLag.max / 1e6)}`,
  });
  for (const b of bystanders) {
    expect(b.conn.isClosed, `bystander ${b.label} still connected after ${name}`).toBe(false);
    expect(b.failures, `bystander ${b.label} errors`).toEqual([]);
    const { message, typing } = b.stats();
    expect(message.count, `bystander ${b.label} round trips during ${name}`).toBeGreaterThanOrEqual(10);
    expect(typing.count, `bystander ${b.label} typing round trips during ${name}`).toBeGreaterThanOrEqual(10);
    // A ping that never comes back is counted as 10 s: none may be lost.
    expect(message.max, `bystander ${b.label}: no ping lost during ${name} (${fmt(message)})`).toBeLessThan(10_000);
    expect(typing.max, `bystander ${b.label}: no typing ping lost during ${name} (${fmt(typing)})`).toBeLessThan(10_000);
  }
}

beforeAll(async () => {
  srv = await startServer({ env: { MAX_OUTBOX_BYTES: String(MAX_OUTBOX_BYTES), HEARTBEAT_MS: '1000' } });
  api = new Api(srv.baseUrl);
  const [by1, by2, att] = await api.users(3, 'hostile');
  attacker = att!;
  attackerRoom = await api.group(attacker, []);
  const rooms = async (owner: Account, n: number) => Promise.all(Array.from({ length: n }, () => api.group(owner, [])));
  const [room1, typing1, room2, typing2] = [await api.group(by1!, []), await rooms(by1!, 12), await api.group(by2!, []), await rooms(by2!, 12)];
  bystanders = [await Bystander.start(srv, by1!.token, room1, typing1, 'ws'), await Bystander.start(srv, by2!.token, room2, typing2, 'tcp')];
  // Warm up (JIT, pools, Kafka producer) before the memory baseline.
  for (const b of bystanders) b.run(100);
  await sleep(1500);
  for (const b of bystanders) await b.stop();
  rssBefore = await rss();
  rssPeak = rssBefore;
  rssTimer = setInterval(() => {
    scrape(srv.baseUrl, ['process_resident_memory_bytes', 'nodejs_eventloop_lag_max_seconds']).then(
      (v) => {
        rssPeak = Math.max(rssPeak, v.process_resident_memory_bytes ?? 0);
        serverLagMs = Math.max(serverLagMs, Math.round((v.nodejs_eventloop_lag_max_seconds ?? 0) * 1000));
      },
      () => {},
    );
  }, 500);
});

afterAll(async () => {
  if (rssTimer) clearInterval(rssTimer);
  for (const c of open) c.destroy();
  for (const b of bystanders) b.conn.destroy();
  console.table(summary);
  await srv?.stop();
});

describe('hostile STOMP clients', () => {
  it('baseline: bystander latency without an attack', async () => {
    await underAttack('none (baseline)', async () => void (await sleep(2000)));
  });

  it('random bytes (deterministic PRNG): 4 MiB over TCP, 1 MiB over WebSocket, in chunks', async () => {
    const rand = prng(0xc0ffee);
    const outcomes: string[] = [];
    await underAttack('random bytes', async () => {
      const one = async (kind: 'tcp' | 'ws', bytes: number, chunk: number) => {
        const c = await attackConn(kind);
        const t0 = Date.now();
        await stream(c, () => randomBytes(rand, chunk), bytes);
        await expectCutOff(c, t0, ERROR_CLOSE_MS);
        outcomes.push(c.frames.map((f) => `${f.command}:${f.headers.message ?? ''}`).join(',') || 'closed');
        // At most one frame, and it is an ERROR.
        expect(c.frames.length).toBeLessThanOrEqual(1);
        if (c.frames.length) expect(c.frames[0]!.command).toBe('ERROR');
      };
      const jobs: Array<() => Promise<void>> = [];
      for (let i = 0; i < 64; i++) jobs.push(() => one('tcp', 64 * 1024, 16 * 1024));
      for (let i = 0; i < 16; i++) jobs.push(() => one('ws', 64 * 1024, 16 * 1024));
      await bounded(jobs, 8);
    });
    const counts = tally(outcomes);
    console.log('[random bytes] outcomes', counts);
    expect(outcomes.length).toBe(80);
  });

  it('mutated valid frames (flip/insert/delete bytes): 200 connections in a bounded loop', async () => {
    const rand = prng(42);
    const outcomes: string[] = [];
    const valid = () =>
      Buffer.concat([
        Buffer.from(`CONNECT\naccept-version:1.2\nhost:/\nAuthorization:Bearer ${attacker.token}\nheart-beat:0,0\n\n\0`),
        Buffer.from(`SUBSCRIBE\ndestination:${ROOM(attackerRoom)}\nid:s\\c1\nack:client-individual\nreceipt:r1\n\n\0\n`),
        Buffer.from(`SEND\ndestination:${ROOM(attackerRoom)}\ncontent-type:text/plain\ncontent-length:5\nreceipt:r2\n\nhello\0`),
        Buffer.from(`BEGIN\ntransaction:t\n\n\0SEND\ndestination:${ROOM(attackerRoom)}\ntransaction:t\n\n{"x":1}\0COMMIT\ntransaction:t\nreceipt:r3\n\n\0`),
        Buffer.from(`DISCONNECT\nreceipt:bye\n\n\0`),
      ]);
    await underAttack('mutated frames', async () => {
      const jobs = Array.from({ length: 200 }, (_, i) => async () => {
        const kind = i % 4 === 3 ? 'ws' : 'tcp';
        const frames = valid();
        // Half of them keep CONNECT intact, so the mutations reach the authenticated state machine.
        const cut = i % 2 === 0 ? frames.indexOf(0) + 1 : 0;
        const bytes = Buffer.concat([frames.subarray(0, cut), mutate(rand, frames.subarray(cut))]);
        const c = await attackConn(kind);
        c.write(bytes);
        // A mutation may leave a valid but incomplete frame: the server then waits for more; give it 1 s.
        await Promise.race([c.closed, sleep(1000)]);
        expect(c.decodeError, 'server output is well-formed STOMP').toBeNull();
        for (const f of c.frames) expect(['CONNECTED', 'RECEIPT', 'MESSAGE', 'ERROR']).toContain(f.command);
        const err = c.frames.findIndex((f) => f.command === 'ERROR');
        if (err >= 0) {
          expect(err, `ERROR is the last frame: ${c.describe()}`).toBe(c.frames.length - 1);
          await c.waitClosed(ERROR_CLOSE_MS);
          outcomes.push(`ERROR:${c.frames[err]!.headers.message}`);
        } else {
          outcomes.push(c.isClosed ? 'closed' : 'open');
        }
        c.destroy();
      });
      await bounded(jobs, 16);
    });
    const counts = tally(outcomes);
    console.log('[mutated frames] outcomes', counts);
    expect(outcomes.length).toBe(200);
    // Every outcome is an API.md ERROR code, a clean close or a connection still waiting for more bytes.
    for (const k of Object.keys(counts)) {
      expect([
        'ERROR:bad-frame',
        'ERROR:frame-too-large',
        'ERROR:unauthorized',
        'ERROR:unknown-destination',
        'ERROR:invalid-message',
        'ERROR:forbidden',
        'closed',
        'open',
      ]).toContain(k);
    }
    expect(await api.call('GET', '/healthz').then((r) => r.status)).toBe(200);
  });

  it('huge header (100 KiB value), before and after CONNECT, TCP and WebSocket', async () => {
    const head = Buffer.from(`SEND\ndestination:${ROOM(attackerRoom)}\nreceipt:big\nx-huge:`);
    const value = Buffer.alloc(100 * 1024, 0x61);
    await underAttack('huge header', () =>
      eachAttacker(true, 'frame-too-large', async (c) => {
        await stream(
          c,
          (i) => (i === 0 ? head : i <= 10 ? value.subarray((i - 1) * 10240, i * 10240) : Buffer.from('\n\nbody\0')),
          head.length + value.length + 7,
        );
      }),
    );
  });

  it('endless header lines without the blank line (1 MiB of them)', async () => {
    const lines = Buffer.from(Array.from({ length: 512 }, (_, i) => `x-h${i % 7}:v\n`).join(''));
    await underAttack('endless headers', () =>
      eachAttacker(true, 'frame-too-large', async (c) => {
        await stream(c, (i) => (i === 0 ? Buffer.from('SEND\n') : lines), MB);
      }),
    );
  });

  it('1,000 headers in one frame', async () => {
    const headers = Array.from({ length: 1000 }, (_, i) => `h${i}:${i}`).join('\n');
    await underAttack('1000 headers', () =>
      eachAttacker(false, 'frame-too-large', async (c) => {
        c.write(`SEND\ndestination:${ROOM(attackerRoom)}\n${headers}\n\nhi\0`);
      }),
    );
  });

  it('a body without NUL or content-length, streaming 1 MiB', async () => {
    const chunk = Buffer.alloc(16 * 1024, 0x62);
    await underAttack('endless body', () =>
      eachAttacker(true, 'frame-too-large', async (c) => {
        // (What the client manages to write says little: loopback kernel buffers take megabytes unread.)
        await stream(c, (i) => (i === 0 ? Buffer.from(`SEND\ndestination:${ROOM(attackerRoom)}\n\n`) : chunk), MB);
      }),
    );
  });

  it('content-length lies: says 10, sends 100 then NUL -> ERROR', async () => {
    await underAttack('content-length 10, body 100', () =>
      eachAttacker(false, 'bad-frame', async (c) => {
        c.write(`SEND\ndestination:${ROOM(attackerRoom)}\ncontent-length:10\nreceipt:lie\n\n${'z'.repeat(100)}\0`);
      }),
    );
    // Nothing of the lie was stored.
    const history = await api.allMessages(attacker, attackerRoom);
    expect(history.filter((m) => String(m.content).startsWith('zzzzzzzzzz'))).toEqual([]);
  });

  it('content-length lies: says 1000, sends 10 and waits -> cut off (CONNECT timeout, or missed heart-beats)', async () => {
    await underAttack('content-length 1000, body 10', async () => {
      const t0 = Date.now();
      const jobs = (['tcp', 'ws'] as const).flatMap((kind) => [
        // Before CONNECT: a CONNECT frame whose body never completes -> the 10 s CONNECT timeout (API.md: ERROR bad-frame).
        (async () => {
          const c = await attackConn(kind);
          c.write(`CONNECT\naccept-version:1.2\nhost:/\nAuthorization:Bearer ${attacker.token}\ncontent-length:1000\n\n0123456789`);
          await expectCutOff(c, t0, 12_000, 'bad-frame');
        })(),
        // After CONNECT with heart-beat:1000,0 promised (server 1000): silence is cut after about 2 x MAX(1000, 1000) ms.
        (async () => {
          const c = await attackConn(kind);
          await c.connect(attacker.token, { 'heart-beat': '1000,0' });
          const t1 = Date.now();
          c.write(`SEND\ndestination:${ROOM(attackerRoom)}\ncontent-length:1000\n\n0123456789`);
          // Dead-peer bound with HEARTBEAT_MS=1000: 2 x 1 s + 2 s grace, checked every second (+ slack for a loaded machine).
          await expectCutOff(c, t1, 8000);
        })(),
      ]);
      await Promise.all(jobs);
    });
  }, 60_000);

  it('slowloris: one byte of CONNECT every 200 ms -> cut off by the CONNECT timeout within ~12 s (50 TCP + 10 WebSocket)', async () => {
    await underAttack('slowloris', async () => {
      const frame = Buffer.from(`CONNECT\naccept-version:1.2\nhost:/\nAuthorization:Bearer ${attacker.token}\n\n\0`);
      const conns = await Promise.all([...Array.from({ length: 50 }, () => attackConn('tcp')), ...Array.from({ length: 10 }, () => attackConn('ws'))]);
      const t0 = Date.now();
      let i = 0;
      const drip = setInterval(() => {
        if (i >= frame.length) return;
        for (const c of conns) if (!c.isClosed) c.write(frame.subarray(i, i + 1));
        i++;
      }, 200);
      try {
        // CONNECT_TIMEOUT_MS: ERROR bad-frame "no CONNECT frame within …" (API.md).
        const elapsed = await Promise.all(conns.map((c) => expectCutOff(c, t0, 12_500, 'bad-frame')));
        console.log(`[slowloris] cut off after ${Math.min(...elapsed)}..${Math.max(...elapsed)} ms`);
        expect(Math.min(...elapsed)).toBeGreaterThan(9000);
        // Still dripping when cut off: the CONNECT frame was never complete.
        expect(i).toBeLessThan(frame.length);
      } finally {
        clearInterval(drip);
      }
    });
  }, 60_000);

  for (const kind of ['tcp', 'ws'] as const) {
    it(`a ${kind} client that never reads is closed at the output bound; the room's other subscribers keep receiving`, async () => {
      const [sender, reader] = await api.pair('slowroom');
      const room = await api.group(sender!, [reader!, attacker]);
      const closedBefore = await metric(srv.baseUrl, 'chat_slow_consumers_closed_total');
      const slow = await attackConn(kind);
      await slow.connect(attacker.token);
      // 100 subscriptions to the room: every message is written 100 times to this connection.
      let subs = '';
      for (let i = 0; i < 100; i++) subs += `SUBSCRIBE\ndestination:${ROOM(room)}\nid:s${i}\nreceipt:sr${i}\n\n\0`;
      slow.write(subs);
      await slow.receipt('sr99');
      const listener = await RawConn.open(kind === 'tcp' ? 'ws' : 'tcp', srv);
      open.push(listener);
      await listener.connect(reader!.token);
      await listener.subscribe(ROOM(room), 'l');
      const tx = await RawConn.open('tcp', srv);
      open.push(tx);
      await tx.connect(sender!.token);
      slow.pause();
      const N = 80;
      const content = 'w'.repeat(4000);
      let closedAt = 0;
      await underAttack(`never-reading ${kind} client`, async () => {
        for (let i = 0; i < N; i++) {
          await tx.sendWithReceipt(ROOM(room), `${i} ${content}`);
          if (i % 10 === 9 && (await metric(srv.baseUrl, 'chat_slow_consumers_closed_total')) > closedBefore) break;
        }
        await waitFor(async () => (await metric(srv.baseUrl, 'chat_slow_consumers_closed_total')) > closedBefore, 15_000, 'slow consumer closed', 200);
        closedAt = Date.now();
      });
      // The listener got every message the sender managed to send, in order.
      const lastReceipt = tx.frames.filter((f) => f.command === 'RECEIPT').length;
      await waitFor(() => listener.messages().length >= lastReceipt, 15_000, 'listener caught up');
      expect(listener.messages().map((m) => Number(String(m.json.content).split(' ')[0]))).toEqual(Array.from({ length: lastReceipt }, (_, i) => i));
      // Reading again, the attacker finds its connection closed by the server.
      slow.resume();
      await withDeadline(slow.closed, 10_000, 'slow consumer connection closed');
      console.log(
        `[slow ${kind}] closed after ${lastReceipt} messages x 100 subscriptions; ${slow.receivedBytes} bytes read; closed ${slow.closedAt! - closedAt} ms after the metric`,
      );
      expect(listener.isClosed).toBe(false);
      expect(tx.isClosed).toBe(false);
    }, 90_000);
  }

  it('the server stays healthy and the bystanders stay connected (memory and latency are printed, not asserted)', async () => {
    const after = await rss();
    rssPeak = Math.max(rssPeak, after);
    console.log(`[memory] RSS at start ${(rssBefore / MB).toFixed(1)} MiB, peak ${(rssPeak / MB).toFixed(1)} MiB, now ${(after / MB).toFixed(1)} MiB`);
    const m = latencyStats(allLatencies);
    const t = latencyStats(allTyping);
    console.log(
      `[bystanders] over the windows measured: message n=${m.count} p50 ${m.p50} ms p99 ${m.p99} ms max ${m.max} ms; typing n=${t.count} p50 ${t.p50} ms p99 ${t.p99} ms max ${t.max} ms`,
    );
    expect(srv.proc.exitCode).toBeNull();
    expect((await api.call('GET', '/healthz')).status).toBe(200);
    for (const b of bystanders) expect(b.conn.isClosed, `bystander ${b.label} connected`).toBe(false);
  });
});

async function bounded(jobs: Array<() => Promise<void>>, concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs.length) await jobs[next++]!();
    }),
  );
}

function tally(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}
