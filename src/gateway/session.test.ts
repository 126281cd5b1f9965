// The STOMP session state machine over a fake transport, with the real hub on the in-process bus and plain fakes
// for the services: the lifecycle races (close mid-handshake, mid-SUBSCRIBE), per-version framing, the
// per-connection budgets and flow control, half-close, heart-beat deadlines and token expiry.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { PreparedMessage, StompDecoder, encodeFrame, type Frame } from '../../protocol/index.js';
import { sendSchema } from '../chat/input.js';
import { ReplayBudget } from '../chat/replay-budget.js';
import { MemoryRateWindows } from '../counters/rate-windows-memory.js';
import { loadConfig } from '../config.js';
import { topics } from '../fanout/fanout.js';
import { Hub, type TopicSubscriber } from '../fanout/hub.js';
import { MemoryFanoutBus } from '../fanout/memory.js';
import { createMetrics } from '../metrics/metrics.js';
import { appError } from '../shared/errors.js';
import { toView, type ChatMessage, type User } from '../shared/model.js';
import { Semaphore } from './semaphore.js';
import { Session } from './session.js';
import { ReadyState } from './session-state.js';
import type { SessionDeps } from './session-deps.js';
import type { Transport } from './transport.js';

class FakeTransport implements Transport {
  readonly kind = 'tcp' as const;
  readonly remoteAddress = '10.0.0.1';
  frames: Frame[] = [];
  paused = false;
  pauses = 0;
  ended = false;
  destroyed = false;
  private readonly decoder = new StompDecoder({ onFrame: (f) => this.frames.push(f) }, { commands: 'server', maxFrameBytes: 1 << 24, maxHeaders: 1000 });
  setVersion(v: '1.0' | '1.1' | '1.2') {
    this.decoder.version = v;
  }
  send(data: Buffer) {
    this.decoder.push(data);
  }
  bufferedBytes() {
    return 0;
  }
  pause() {
    this.paused = true;
    this.pauses++;
  }
  resume() {
    this.paused = false;
  }
  onDrain(fn: () => void) {
    setImmediate(fn);
  }
  end() {
    this.ended = true;
  }
  destroy() {
    this.destroyed = true;
  }
  commands() {
    return this.frames.map((f) => f.command);
  }
  last(command: string) {
    return [...this.frames].reverse().find((f) => f.command === command);
  }
}

const USER: User = { id: '42', email: 'u@x', nickname: 'u', status: 'OFFLINE', lastSeenAt: null };
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));
const until = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await tick(2);
  }
};

let seq = 0;
function setup(over: { env?: Record<string, string>; deps?: Partial<SessionDeps> } = {}) {
  const config = loadConfig({ NODE_ENV: 'test', ...over.env });
  const bus = new MemoryFanoutBus();
  const log = pino({ level: 'silent' });
  const metrics = createMetrics('session-test');
  const members = new Set(['7:42', '8:42']);
  const events = { opened: 0, closed: 0, sent: [] as string[] };
  const hub = new Hub({
    bus,
    repair: async () => ({ complete: true }),
    views: async () => [],
    areMembers: async (pairs) => pairs.map((p) => members.has(`${p.roomId}:${p.userId}`)),
    log,
    metrics,
  });
  const require = async (roomId: string, userId: string) => {
    if (!members.has(`${roomId}:${userId}`)) throw appError('forbidden', 'not a member');
  };
  const deps: SessionDeps = {
    authenticate: async () => ({ user: USER, expiresAt: null }),
    messages: {
      send: async (_u, roomId, input) => {
        await require(roomId, USER.id);
        events.sent.push(input.content);
        const s = String(++seq);
        const message: ChatMessage = {
          id: `m${s}`,
          roomId,
          senderId: USER.id,
          seq: s,
          type: 'TEXT',
          content: input.content,
          idempotencyKey: null,
          createdAt: new Date().toISOString(),
          partition: 0,
          offset: s,
        };
        return { message, duplicate: false };
      },
      sendAtomically: async (_u, items) =>
        items.map((it) => {
          const s = String(++seq);
          return {
            message: {
              id: `m${s}`,
              roomId: it.roomId,
              senderId: USER.id,
              seq: s,
              type: 'TEXT',
              content: it.input.content,
              idempotencyKey: null,
              createdAt: new Date().toISOString(),
              partition: 0,
              offset: s,
            },
            duplicate: false,
          };
        }),
    },
    membership: { require },
    reads: { markRead: async () => ({ lastReadSeq: '0', unreadCount: 0 }), views: async () => [] },
    events: { room: async () => {} },
    hub,
    catchUp: { messagesAfter: async () => [] },
    lastBroadcastSeq: async () => null,
    ops: { isAdmin: () => false, monitor: { addSubscriber: () => {}, removeSubscriber: () => {} } },
    acks: { advance: async () => {}, get: async () => null },
    sendSchema: sendSchema(config.limits.maxContentBytes),
    userSends: { charge: () => 0 },
    replayBudget: { admit: async () => {}, charge: async () => 0 },
    userReplaySlots: () => new Semaphore(4),
    newReplaySlots: () => new Semaphore(2),
    opened: () => void events.opened++,
    closed: () => void events.closed++,
    gate: { authenticated: () => {}, closed: () => {} },
    limits: config.limits,
    rate: config.rate,
    heartbeatMs: config.heartbeatMs,
    connectTimeoutMs: config.connectTimeoutMs,
    frameTimeoutMs: config.frameTimeoutMs,
    instanceId: 'test',
    log,
    metrics,
    ...over.deps,
  };
  const t = new FakeTransport();
  const session = new Session(t, deps);
  sessions.push(session);
  const send = (command: string, headers: Record<string, string>, body?: string, version: '1.0' | '1.1' | '1.2' = '1.2') =>
    session.onData(encodeFrame(command, headers, body, version));
  const connect = async (version = '1.2', extra: Record<string, string> = {}) => {
    send('CONNECT', { 'accept-version': version, host: 'x', passcode: 'token', ...extra });
    await until(() => t.frames.length > 0);
    t.setVersion(version as '1.0');
  };
  return { session, t, send, connect, hub, bus, members, events, deps };
}

/** Holds every SEND at the log until the returned release() (which frees those held so far). */
function holdSends(deps: SessionDeps): () => void {
  const original = deps.messages.send;
  const held: Array<() => void> = [];
  deps.messages.send = async (...a) => {
    await new Promise<void>((r) => held.push(r));
    return original(...a);
  };
  return () => {
    for (const r of held.splice(0)) r();
  };
}

const sessions: Session[] = [];
afterEach(() => {
  for (const s of sessions.splice(0)) s.onTransportClosed();
});

describe('Session lifecycle', () => {
  it('CONNECT -> CONNECTED with version, heart-beat, session, server, user-name; registered once, unregistered once', async () => {
    const { t, connect, session, events } = setup();
    await connect();
    const c = t.frames[0]!;
    expect(c.command).toBe('CONNECTED');
    expect(c.headers).toMatchObject({ version: '1.2', 'heart-beat': '10000,10000', server: 'kafka-stomp-chat/test', 'user-name': '42' });
    expect(events.opened).toBe(1);
    session.onTransportClosed();
    session.onTransportClosed();
    expect(events.closed).toBe(1);
  });

  it('a connection that closes while its CONNECT is being authenticated is never registered (no zombie session)', async () => {
    let release!: () => void;
    const { t, send, session, events } = setup({
      deps: { authenticate: () => new Promise((resolve) => (release = () => resolve({ user: USER, expiresAt: null }))) },
    });
    send('CONNECT', { 'accept-version': '1.2', passcode: 'x' });
    await tick();
    session.onTransportClosed();
    release();
    await tick();
    expect(events.opened).toBe(0);
    expect(events.closed).toBe(0);
    expect(t.commands()).toEqual([]);
  });

  it('a connection that closes while its SUBSCRIBE awaits the membership check leaves nothing in the hub', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { connect, send, session, bus, t } = setup({ deps: { membership: { require: () => gate } } });
    await connect();
    send('SUBSCRIBE', { id: 's', destination: '/topic/rooms.7' });
    send('SUBSCRIBE', { id: 'e', destination: '/topic/rooms.7.events' });
    await tick();
    session.onTransportClosed();
    release();
    await tick();
    // Nothing is subscribed any more: a publish reaches no one, and the hub holds no room state.
    await bus.publishRoom('7', [
      { id: 'x', roomId: '7', seq: '1', senderId: '1', type: 'TEXT', content: 'c', createdAt: new Date().toISOString(), unreadCount: 0 },
    ]);
    await tick();
    expect(t.commands().filter((c) => c === 'MESSAGE')).toEqual([]);
    expect((bus as unknown as { rooms: Map<string, unknown>; topics: Map<string, unknown> }).rooms.size).toBe(0);
    expect((bus as unknown as { topics: Map<string, unknown> }).topics.has(topics.roomEvents('7'))).toBe(false);
  });

  it('no CONNECT within CONNECT_TIMEOUT_MS -> ERROR that says so (not "unauthorized"), then close', async () => {
    const { t } = setup({ env: { CONNECT_TIMEOUT_MS: '30' } });
    await until(() => t.ended);
    const e = t.last('ERROR')!;
    expect(e.headers.message).toBe('bad-frame');
    expect(e.body.toString()).toContain('CONNECT_TIMEOUT_MS');
    expect(e.headers['content-type']).toBe('text/plain;charset=utf-8');
  });

  it('the session ends with its token: ERROR unauthorized at expiry', async () => {
    const { t, connect } = setup({ deps: { authenticate: async () => ({ user: USER, expiresAt: Date.now() + 60 }) } });
    await connect();
    await until(() => t.ended);
    expect(t.last('ERROR')!.headers.message).toBe('unauthorized');
    expect(t.last('ERROR')!.body.toString()).toContain('expired');
  });
});

describe('STOMP versions', () => {
  it('1.0: SUBSCRIBE without id (the destination names it), headers written and read raw, no escaping', async () => {
    const { t, connect, send, bus } = setup();
    await connect('1.0');
    expect(t.frames[0]!.headers.version).toBe('1.0');
    send('SUBSCRIBE', { destination: '/topic/rooms.7', receipt: 'r:1' }, undefined, '1.0');
    await until(() => t.commands().includes('RECEIPT'));
    expect(t.last('RECEIPT')!.headers['receipt-id']).toBe('r:1');
    await bus.publishRoom('7', [
      { id: 'x1', roomId: '7', seq: '1', senderId: '1', type: 'TEXT', content: 'c', createdAt: '2026-01-01T10:41:00.492Z', unreadCount: 0 },
    ]);
    await until(() => t.commands().includes('MESSAGE'));
    const m = t.last('MESSAGE')!;
    expect(m.headers.subscription).toBe('/topic/rooms.7');
    expect(m.headers['created-at']).toBe('2026-01-01T10:41:00.492Z');
    // A literal backslash in a 1.0 header is data, not a bad escape.
    send('SEND', { destination: '/topic/rooms.7', 'x-path': 'C:\\temp', receipt: 's1' }, 'hi', '1.0');
    await until(() => t.frames.some((f) => f.headers['receipt-id'] === 's1'));
    expect(t.commands()).not.toContain('ERROR');
    send('UNSUBSCRIBE', { destination: '/topic/rooms.7', receipt: 'u1' }, undefined, '1.0');
    await until(() => t.frames.some((f) => f.headers['receipt-id'] === 'u1'));
  });

  it('1.0: NACK is not part of the protocol -> ERROR bad-frame', async () => {
    const { t, connect, send } = setup();
    await connect('1.0');
    send('NACK', { 'message-id': 'x' }, undefined, '1.0');
    await until(() => t.ended);
    expect(t.last('ERROR')!.headers.message).toBe('bad-frame');
  });

  it('1.1: the ack id of a client-ack MESSAGE is its message-id (no ack header)', async () => {
    const { t, connect, send, bus } = setup();
    await connect('1.1');
    send('SUBSCRIBE', { id: 's', destination: '/topic/rooms.7', ack: 'client', receipt: 'r' }, undefined, '1.1');
    await until(() => t.commands().includes('RECEIPT'));
    await bus.publishRoom('7', [
      { id: 'x1', roomId: '7', seq: '1', senderId: '1', type: 'TEXT', content: 'c', createdAt: new Date().toISOString(), unreadCount: 0 },
    ]);
    await until(() => t.commands().includes('MESSAGE'));
    expect(t.last('MESSAGE')!.headers.ack).toBeUndefined();
    send('ACK', { subscription: 's', 'message-id': 'x1', receipt: 'a' }, undefined, '1.1');
    await until(() => t.frames.some((f) => f.headers['receipt-id'] === 'a'));
  });
});

describe('budgets and flow control', () => {
  it('open transactions are capped (BEGIN flood -> ERROR after MAX_TRANSACTIONS)', async () => {
    const { t, connect, send } = setup({ env: { MAX_TRANSACTIONS: '3' } });
    await connect();
    for (let i = 0; i < 50; i++) send('BEGIN', { transaction: `t${i}` });
    await until(() => t.ended);
    const e = t.last('ERROR')!;
    expect(e.headers.message).toBe('bad-frame');
    expect(e.body.toString()).toContain('at most 3 open transactions');
  });

  it('a transaction holds at most MAX_TRANSACTION_FRAMES SENDs and MAX_TRANSACTION_BYTES of content', async () => {
    const a = setup({ env: { MAX_TRANSACTION_FRAMES: '2' } });
    await a.connect();
    a.send('BEGIN', { transaction: 't' });
    for (let i = 0; i < 3; i++) a.send('SEND', { destination: '/topic/rooms.7', transaction: 't' }, `m${i}`);
    await until(() => a.t.ended);
    expect(a.t.last('ERROR')!.body.toString()).toContain('at most 2 SENDs per transaction');

    const b = setup({ env: { MAX_TRANSACTION_BYTES: '10' } });
    await b.connect();
    b.send('BEGIN', { transaction: 't' });
    b.send('SEND', { destination: '/topic/rooms.7', transaction: 't' }, '0123456789A');
    await until(() => b.t.ended);
    expect(b.t.last('ERROR')!.body.toString()).toContain('at most 10 bytes');
    expect(b.events.sent).toEqual([]);
  });

  it('SENDs over the connection rate pause reading (backpressure) instead of an ERROR; every SEND gets its RECEIPT', async () => {
    const { t, connect, send, events } = setup({ env: { RATE_CONN_PER_SEC: '20', RATE_CONN_BURST: '5' } });
    await connect();
    for (let i = 0; i < 10; i++) send('SEND', { destination: '/topic/rooms.7', receipt: `r${i}` }, `m${i}`);
    await until(() => t.pauses > 0);
    await until(() => t.frames.filter((f) => f.command === 'RECEIPT').length === 10);
    expect(events.sent).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    expect(t.commands()).not.toContain('ERROR');
    await until(() => !t.paused, 1000);
  });

  it('a connection kept over its rate for RATE_ABUSE_MS gets ERROR rate-limited — after the RECEIPTs of the SENDs it was given', async () => {
    const { t, connect, send } = setup({ env: { RATE_CONN_PER_SEC: '10', RATE_CONN_BURST: '2', RATE_ABUSE_MS: '50' } });
    await connect();
    for (let i = 0; i < 5; i++) send('SEND', { destination: '/topic/rooms.7', receipt: `r${i}` }, `m${i}`);
    await tick(80);
    for (let i = 5; i < 8; i++) send('SEND', { destination: '/topic/rooms.7', receipt: `r${i}` }, `m${i}`);
    await until(() => t.ended);
    const receipts = t.frames.filter((f) => f.command === 'RECEIPT').length;
    const errorAt = t.commands().indexOf('ERROR');
    expect(t.last('ERROR')!.headers.message).toBe('rate-limited');
    // Every SEND handed to the log before the ERROR had its RECEIPT first.
    expect(receipts).toBe(errorAt - 1);
    expect(receipts).toBeGreaterThanOrEqual(6);
  });

  it('a client-ack subscription stops live delivery at MAX_UNACKED (the rest comes from the store once acknowledged)', async () => {
    const { t, connect, send, bus } = setup({ env: { MAX_UNACKED: '2' } });
    await connect();
    send('SUBSCRIBE', { id: 's', destination: '/topic/rooms.7', ack: 'client-individual', receipt: 'r' });
    await until(() => t.commands().includes('RECEIPT'));
    for (let i = 1; i <= 4; i++) {
      await bus.publishRoom('7', [
        { id: `x${i}`, roomId: '7', seq: String(i), senderId: '1', type: 'TEXT', content: 'c', createdAt: new Date().toISOString(), unreadCount: 0 },
      ]);
    }
    await tick(20);
    expect(t.frames.filter((f) => f.command === 'MESSAGE').map((f) => f.headers.seq)).toEqual(['1', '2']);
  });
});

describe('half-close and heart-beats', () => {
  it('input half-closed with a SEND in flight: the RECEIPT goes out first, then the connection closes', async () => {
    const { t, connect, send, deps } = setup();
    const release = holdSends(deps);
    await connect();
    send('SEND', { destination: '/topic/rooms.7', receipt: 'last' }, 'bye');
    await tick();
    (t as unknown as { ended: boolean }).ended = false;
    sessions[sessions.length - 1]!.onInputEnded();
    await tick();
    expect(t.ended).toBe(false);
    release();
    await until(() => t.ended);
    expect(t.last('RECEIPT')!.headers['receipt-id']).toBe('last');
  });

  it('the ready state moves CONNECTING -> OPEN -> CLOSING (input ended, a SEND in flight) -> CLOSED', async () => {
    const { t, connect, send, deps, session } = setup();
    const release = holdSends(deps);
    expect(session.readyState).toBe(ReadyState.CONNECTING);
    await connect();
    expect(session.readyState).toBe(ReadyState.OPEN);
    send('SEND', { destination: '/topic/rooms.7', receipt: 's' }, 'x');
    await tick();
    session.onInputEnded();
    expect(session.readyState).toBe(ReadyState.CLOSING);
    release();
    await until(() => t.ended);
    expect(session.readyState).toBe(ReadyState.CLOSED);
    expect(t.commands()).toEqual(['CONNECTED', 'RECEIPT']);
  });

  it("a DISCONNECT's RECEIPT follows the SENDs in flight as soon as they settle (a promise, not a polling loop)", async () => {
    const { t, connect, send, deps } = setup();
    const release = holdSends(deps);
    await connect();
    send('SEND', { destination: '/topic/rooms.7', receipt: 'send' }, 'x');
    send('DISCONNECT', { receipt: 'bye' });
    await tick(30);
    expect(t.commands()).toEqual(['CONNECTED']);
    release();
    // Two turns of the event loop: a 5 ms polling loop would not have answered yet.
    for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
    expect(t.frames.map((f) => f.headers['receipt-id'])).toEqual([undefined, 'send', 'bye']);
    expect(t.ended).toBe(true);
  });

  it('a bad frame after a SEND in flight: CLOSING reads nothing more, the RECEIPT goes out, then the ERROR', async () => {
    const { t, connect, send, deps, session } = setup();
    const release = holdSends(deps);
    await connect();
    send('SEND', { destination: '/topic/rooms.7', receipt: 'first' }, 'x');
    await tick();
    session.onData(Buffer.from('BOGUS\n\n\0'));
    expect(session.readyState).toBe(ReadyState.CLOSING);
    send('SEND', { destination: '/topic/rooms.7', receipt: 'ignored' }, 'y');
    release();
    await until(() => t.ended);
    expect(t.commands()).toEqual(['CONNECTED', 'RECEIPT', 'ERROR']);
    expect(t.last('RECEIPT')!.headers['receipt-id']).toBe('first');
    expect(t.last('ERROR')!.headers.message).toBe('bad-frame');
  });

  it('a client that promised heart-beats and goes silent is cut at 2x the interval + grace, not later', async () => {
    const { t, connect } = setup({ env: { HEARTBEAT_MS: '100' } });
    const t0 = Date.now();
    await connect('1.2', { 'heart-beat': '100,0' });
    await until(() => t.destroyed, 5000);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(2 * 100 + 2000 - 50);
    expect(elapsed).toBeLessThan(2 * 100 + 2000 + 500);
  });
});

describe('/topic/ops (the operations console)', () => {
  function opsFake(admin: boolean) {
    const subs = new Set<TopicSubscriber>();
    return {
      subs,
      ops: {
        isAdmin: (u: User) => admin && u.id === USER.id,
        monitor: { addSubscriber: (s: TopicSubscriber) => void subs.add(s), removeSubscriber: (s: TopicSubscriber) => void subs.delete(s) },
      },
    };
  }

  it('an administrator subscribes: RECEIPT, then each pushed overview as a MESSAGE of the subscription; unsubscribe and close leave the feed', async () => {
    const fake = opsFake(true);
    const { t, connect, send, session } = setup({ deps: { ops: fake.ops } });
    await connect();
    send('SUBSCRIBE', { id: 'ops', destination: '/topic/ops', receipt: 'r1' });
    await until(() => t.frames.some((f) => f.headers['receipt-id'] === 'r1'));
    expect(fake.subs.size).toBe(1);
    const frame = new PreparedMessage(
      { 'message-id': 'm1', destination: '/topic/ops', 'content-type': 'application/json', 'event-type': 'overview' },
      Buffer.from('{"instances":[]}'),
    );
    for (const s of fake.subs) s.pushEvent(frame);
    await until(() => t.commands().includes('MESSAGE'));
    expect(t.last('MESSAGE')!.headers).toMatchObject({ subscription: 'ops', destination: '/topic/ops', 'event-type': 'overview' });
    send('UNSUBSCRIBE', { id: 'ops', receipt: 'u1' });
    await until(() => t.frames.some((f) => f.headers['receipt-id'] === 'u1'));
    expect(fake.subs.size).toBe(0);
    send('SUBSCRIBE', { id: 'ops2', destination: '/topic/ops', receipt: 'r2' });
    await until(() => t.frames.some((f) => f.headers['receipt-id'] === 'r2'));
    expect(fake.subs.size).toBe(1);
    session.onTransportClosed();
    expect(fake.subs.size).toBe(0);
  });

  it('anyone else: ERROR forbidden, and nothing joins the feed', async () => {
    const fake = opsFake(false);
    const { t, connect, send } = setup({ deps: { ops: fake.ops } });
    await connect();
    send('SUBSCRIBE', { id: 'ops', destination: '/topic/ops', receipt: 'r1' });
    await until(() => t.commands().includes('ERROR'));
    expect(t.last('ERROR')!.headers).toMatchObject({ message: 'forbidden', 'receipt-id': 'r1' });
    expect(fake.subs.size).toBe(0);
  });
});

describe('replay budget', () => {
  const stored = Array.from({ length: 4 }, (_, i): ChatMessage => ({
    id: `h${i + 1}`,
    roomId: '7',
    senderId: '1',
    seq: String(i + 1),
    type: 'TEXT',
    content: `h${i + 1}`,
    idempotencyKey: null,
    createdAt: new Date().toISOString(),
    partition: 0,
    offset: String(i),
  }));
  /** A session over a store of 4 messages in room 7, charging a memory bucket of `perMinute` replayed messages. */
  function withBudget(perMinute: number, env: Record<string, string> = {}) {
    const rates = new MemoryRateWindows();
    const left = () => rates.chargeBucket('replay:42', 0, perMinute / 60, perMinute);
    const s = setup({
      env,
      deps: {
        replayBudget: new ReplayBudget(rates, perMinute),
        catchUp: { messagesAfter: async (_room, after, limit) => stored.filter((m) => BigInt(m.seq) > BigInt(after)).slice(0, limit) },
        reads: { markRead: async () => ({ lastReadSeq: '0', unreadCount: 0 }), views: async (_room, list) => list.map((m) => toView(m, 0)) },
        lastBroadcastSeq: async () => '4',
      },
    });
    return { ...s, left };
  }

  it('since-seq SUBSCRIBEs are charged what they replayed; one after the budget is used up is ERROR rate-limited with its receipt-id', async () => {
    const { t, connect, send, left } = withBudget(10);
    await connect();
    for (const id of ['a', 'b', 'c']) {
      send('SUBSCRIBE', { id, destination: '/topic/rooms.7', 'since-seq': '0', receipt: `r${id}` });
      await until(() => t.frames.some((f) => f.headers['receipt-id'] === `r${id}`));
      expect(t.last('RECEIPT')!.headers['replayed-count']).toBe('4');
      send('UNSUBSCRIBE', { id });
    }
    // 3 × 4 = 12 replayed: 2 over the budget of 10 (the third replay started with 2 left).
    expect(await left()).toBeCloseTo(-2, 0);
    send('SUBSCRIBE', { id: 'd', destination: '/topic/rooms.7', 'since-seq': '0', receipt: 'rd' });
    await until(() => t.ended);
    const e = t.last('ERROR')!;
    expect(e.headers).toMatchObject({ message: 'rate-limited', 'receipt-id': 'rd' });
    expect(t.frames.filter((f) => f.command === 'MESSAGE' && f.headers.subscription === 'd')).toEqual([]);
  });

  it('a live client-ack subscription that fell behind its ack window is caught up from the store without being charged', async () => {
    const { t, connect, send, bus, left } = withBudget(10, { MAX_UNACKED: '2' });
    await connect();
    send('SUBSCRIBE', { id: 's', destination: '/topic/rooms.7', ack: 'client-individual', receipt: 'r' });
    await until(() => t.commands().includes('RECEIPT'));
    for (const m of stored) await bus.publishRoom('7', [toView(m, 0)]);
    await until(() => t.frames.filter((f) => f.command === 'MESSAGE').length === 2);
    for (const f of t.frames.filter((x) => x.command === 'MESSAGE')) send('ACK', { id: f.headers.ack! });
    await until(() => t.frames.filter((f) => f.command === 'MESSAGE').length === 4);
    expect(t.frames.filter((f) => f.command === 'MESSAGE').map((f) => f.headers.seq)).toEqual(['1', '2', '3', '4']);
    expect(await left()).toBeCloseTo(10, 0);
  });
});
