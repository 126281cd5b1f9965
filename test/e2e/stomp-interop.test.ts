// STOMP interoperability against real server processes: STOMP 1.0, 1.1 and 1.2 each per its specification (raw
// frames, byte-exact), the client libraries people use (stompit over TCP and over WebSocket, @stomp/stompjs over
// WebSocket) through a whole chat session, frame endings, ERROR frames, TCP half-close (`printf … | nc -q1`),
// heart-beat deadlines and the server's beats on time (gaps measured raw, and clients that enforce them), authentication precedence, rate limits as flow control, and the `npm run stomp` CLI.
//
// Instances: A (every role, HEARTBEAT_MS=1000, an instance id with a ':' so CONNECTED shows whether it is escaped),
// B (gateway only, HEARTBEAT_MS=3000: the other instance of cross-instance checks), and R (gateway only, 5 SENDs/s
// per connection, RATE_ABUSE_MS=6000, HEARTBEAT_MS=500, FRAME_TIMEOUT_MS=2000) for flow control and its interplay
// with the liveness timers. Barriers are RECEIPTs and marker messages; sleeps only where idle time is the subject.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { StompVersion } from '../../protocol/index.js';
import { Api, type Account } from '../support/api.js';
import { ROOT, sleep, startServer, waitFor, withDeadline, type ServerProc } from '../support/cluster.js';
import { rawDriver, stompitDriver, stompjsDriver, type Delivered, type Driver, type Session } from '../support/interop.js';
import { ALL_SUBPROTOCOLS, RawConn, uid, type ServerFrame } from '../support/raw.js';
import { scanFrames } from '../support/scan-frames.js';

const ROOM = (id: string) => `/topic/rooms.${id}`;
const VERSIONS: StompVersion[] = ['1.0', '1.1', '1.2'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SEQ = /^[1-9]\d*$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const ERROR_CONTENT_TYPE = 'text/plain;charset=utf-8';
const A_HEARTBEAT_MS = 1000;
const B_HEARTBEAT_MS = 3000;
const RATE_PER_SEC = 5;
const RATE_ABUSE_MS = 6000;
const R_HEARTBEAT_MS = 500;
const R_FRAME_TIMEOUT_MS = 2000;
/** How long a wait on the Kafka pipeline (broadcast, persist) may take on a loaded, shared machine. */
const PIPELINE_MS = 120_000;
const TEST_MS = 240_000;
vi.setConfig({ testTimeout: TEST_MS });

let A: ServerProc;
let B: ServerProc;
let api: Api;
/** a: the client under test; b: the peer (sends from instance B); o: an outsider with a room of its own. */
let a: Account;
let b: Account;
let o: Account;
let outsiderRoom: string;
let peer: RawConn;
const opened: Array<{ destroy(): void }> = [];

async function wire(kind: 'tcp' | 'ws', server: ServerProc = A, protocols = ALL_SUBPROTOCOLS): Promise<RawConn> {
  const c = await RawConn.open(kind, server, { protocols, binary: true });
  opened.push(c);
  return c;
}

/** A raw connection CONNECTed at `version` (1.0: no accept-version header at all). */
async function wireAt(version: StompVersion, kind: 'tcp' | 'ws' = 'tcp', user: Account = a, extra: Record<string, string> = {}, server = A): Promise<RawConn> {
  const c = await wire(kind, server, kind === 'ws' ? [`v${version.replace('.', '')}.stomp`] : undefined);
  await c.connectWith({ ...(version === '1.0' ? {} : { 'accept-version': version, host: 'chat' }), passcode: user.token, ...extra });
  expect(c.version).toBe(version);
  return c;
}

async function room(): Promise<string> {
  return api.group(a, [b], `interop-${randomUUID().slice(0, 8)}`);
}

/** The peer (user b, on instance B) sends to a room and waits for the RECEIPT. */
async function peerSend(roomId: string, text: string): Promise<Record<string, string>> {
  return (await peer.sendWithReceipt(ROOM(roomId), text, { 'content-type': 'text/plain' })).headers;
}

/**
 * Runs `send` while the peer (instance B) is subscribed to the room, then waits until the messages whose ids `send`
 * returns were broadcast (the peer got them, so the room's broadcast high-water mark covers them) and stored (REST).
 * A since-seq replay covers what was broadcast and stored when its SUBSCRIBE arrived; a test of the replay must not
 * depend on the pipeline's timing.
 */
async function settle(roomId: string, send: () => Promise<string[]>): Promise<void> {
  const sid = uid('settle');
  await peer.subscribe(ROOM(roomId), sid);
  const ids = await send();
  for (const id of ids)
    await peer.next((f) => f.command === 'MESSAGE' && f.headers.subscription === sid && f.headers['message-id'] === id, PIPELINE_MS, `${id} broadcast`);
  await peer.unsubscribe(sid);
  await stored(roomId, ids);
}

/** Waits until the messages are in the room's REST history. */
async function stored(roomId: string, ids: string[]): Promise<void> {
  await waitFor(
    async () => {
      const have = new Set((await api.allMessages(a, roomId)).map((m: { id: string }) => m.id));
      return ids.every((id) => have.has(id));
    },
    PIPELINE_MS,
    'messages stored',
    200,
  );
}

/** REST sends by `a`, broadcast and stored before this returns. */
async function seed(roomId: string, contents: string[]): Promise<Array<{ id: string; seq: string; content: string }>> {
  const sent: Array<{ id: string; seq: string; content: string }> = [];
  await settle(roomId, async () => {
    for (const content of contents) sent.push((await api.send(a, roomId, content)).body.message);
    return sent.map((m) => m.id);
  });
  return sent;
}

/** ERROR: `message:<code>`, the content type, `receipt-id` when asked, a body with the right length; last frame; closed. */
async function expectError(c: RawConn, code: string, receiptId?: string): Promise<ServerFrame> {
  const err = await c.error();
  await c.waitClosed(10_000);
  expect(err.headers.message, `ERROR message (body: ${err.text})`).toBe(code);
  expect(err.headers['content-type']).toBe(ERROR_CONTENT_TYPE);
  expect(err.text.length, 'ERROR has a body').toBeGreaterThan(0);
  expect(err.headers['content-length']).toBe(String(err.body.length));
  if (receiptId === undefined) expect(err.headers['receipt-id']).toBeUndefined();
  else expect(err.headers['receipt-id']).toBe(receiptId);
  expect(c.frames[c.frames.length - 1], `ERROR is the last frame: ${c.describe()}`).toBe(err);
  return err;
}

/** The MESSAGE headers of API.md, as the client library presents them, for a message whose RECEIPT was `r`. */
function expectMessage(m: Delivered, r: Record<string, string>, roomId: string, senderId: string, content: string): void {
  expect(m.headers['message-id']).toBe(r['message-id']);
  expect(m.headers.seq).toBe(r.seq);
  expect(m.headers.destination).toBe(ROOM(roomId));
  expect(m.headers['content-type']).toBe('application/json');
  expect(m.headers['room-id']).toBe(roomId);
  expect(m.headers['sender-id']).toBe(senderId);
  expect(m.headers['message-type']).toBe('TEXT');
  // The header went through the version's escaping (1.1/1.2: "\c" for each ':') and the library's unescaping.
  expect(m.headers['created-at']).toMatch(ISO);
  expect(m.json).toMatchObject({ id: r['message-id'], roomId, seq: r.seq, senderId, type: 'TEXT', content, createdAt: m.headers['created-at'] });
}

beforeAll(async () => {
  [A, B] = await Promise.all([
    startServer({ instanceId: `interop-a:${process.pid}`, env: { HEARTBEAT_MS: String(A_HEARTBEAT_MS) } }),
    startServer({ instanceId: `interop-b-${process.pid}`, roles: 'gateway', env: { HEARTBEAT_MS: String(B_HEARTBEAT_MS) } }),
  ]);
  api = new Api(A.baseUrl);
  [a, b, o] = (await api.users(3, 'interop')) as [Account, Account, Account];
  outsiderRoom = await api.group(o, [], `outsider-${randomUUID().slice(0, 8)}`);
  peer = await wireAt('1.2', 'tcp', b, {}, B);
  // Barrier: the consumer groups (KAFKA_GROUP_PREFIX) may start behind on the shared topic (other engineers' records,
  // poison ones included); wait until a message sent now to a room of every partition (room id mod 6) has been
  // broadcast and stored before measuring anything.
  const probed = new Set<number>();
  for (let i = 0; i < 30 && probed.size < 6; i++) {
    const r = await room();
    if (probed.has(Number(BigInt(r) % 6n))) continue;
    probed.add(Number(BigInt(r) % 6n));
    await seed(r, ['probe']);
  }
}, 600_000);

afterAll(async () => {
  for (const c of opened) c.destroy();
  await Promise.all([A?.stop(), B?.stop()]);
});

// --- version negotiation and header encoding, byte-exact ------------------------------------------------

describe('STOMP versions (raw frames)', () => {
  it('the version is the highest of accept-version; no accept-version means 1.0; CONNECT and STOMP alike', async () => {
    const cases: Array<[string | null, StompVersion, string]> = [
      ['1.0', '1.0', 'CONNECT'],
      ['1.1', '1.1', 'CONNECT'],
      ['1.2', '1.2', 'CONNECT'],
      ['1.0,1.1', '1.1', 'CONNECT'],
      ['1.1,1.0', '1.1', 'CONNECT'],
      ['1.2,1.0', '1.2', 'STOMP'],
      ['1.0,1.1,1.2', '1.2', 'CONNECT'],
      ['1.0,1.1,2.0', '1.1', 'CONNECT'],
      [null, '1.0', 'CONNECT'],
    ];
    for (const [accept, expected, command] of cases) {
      const c = await wire('tcp');
      const f = await c.connectWith({ ...(accept !== null ? { 'accept-version': accept } : {}), host: 'chat', passcode: a.token }, command);
      expect(f.headers.version, `accept-version ${accept}`).toBe(expected);
      expect(f.headers['user-name']).toBe(a.id);
      c.destroy();
    }
  });

  it('CONNECT and CONNECTED are never escaped, in any version (a backslash in login is data; the server id keeps its colon)', async () => {
    for (const version of VERSIONS) {
      const c = await wire('tcp');
      // "DOMAIN\user": "\u" would be an undefined escape if CONNECT were unescaped.
      const f = await c.connectWith({ ...(version === '1.0' ? {} : { 'accept-version': version }), host: 'chat', login: 'DOMAIN\\user', passcode: a.token });
      expect(f.headers.version).toBe(version);
      expect(f.headers.server).toBe(`kafka-stomp-chat/${A.instanceId}`);
      expect(c.receivedContains(`\nserver:kafka-stomp-chat/${A.instanceId}\n`), `${version}: raw CONNECTED ${JSON.stringify(c.received.toString())}`).toBe(
        true,
      );
      c.destroy();
    }
  });

  it('1.2: \\r \\n \\c \\\\ in both directions; created-at written with \\c', async () => {
    const roomId = await room();
    const c = await wireAt('1.2');
    const weird = 'a\rb:c\\d\ne';
    await c.subscribe(ROOM(roomId), weird, { receipt: 'sub:1' });
    expect(c.receivedContains('receipt-id:sub\\c1\n')).toBe(true);
    await c.subscribe(ROOM(roomId), 'plain', { receipt: 'sub:2' });
    const r = (await c.sendWithReceipt(ROOM(roomId), 'escapes 1.2', { receipt: 'snd:1' })).headers;
    expect(c.receivedContains('receipt-id:snd\\c1\n')).toBe(true);
    const m = await c.next((f) => f.command === 'MESSAGE' && f.headers.subscription === weird, PIPELINE_MS, 'MESSAGE on the escaped id');
    expect(m.headers['message-id']).toBe(r['message-id']);
    expect(c.receivedContains('MESSAGE\nsubscription:a\\rb\\cc\\\\d\\ne\n')).toBe(true);
    expect(m.headers['created-at']).toBe(m.json.createdAt);
    expect(c.receivedContains(`created-at:${m.json.createdAt.replaceAll(':', '\\c')}\n`)).toBe(true);
    // UNSUBSCRIBE names the id escaped the same way.
    await c.unsubscribe(weird);
    const x = await peerSend(roomId, 'after unsubscribe');
    await c.next(
      (f) => f.command === 'MESSAGE' && f.headers.subscription === 'plain' && f.headers['message-id'] === x['message-id'],
      PIPELINE_MS,
      'marker on plain',
    );
    expect(c.messages((f) => f.headers.subscription === weird).map((f) => f.json.content)).toEqual(['escapes 1.2']);
  });

  it('1.1: \\n \\c \\\\ in both directions; created-at written with \\c; a \\r escape is an ERROR bad-frame', async () => {
    const roomId = await room();
    const c = await wireAt('1.1');
    const weird = 'a:b\\c\nd';
    await c.subscribe(ROOM(roomId), weird, { receipt: 'sub:1' });
    expect(c.receivedContains('receipt-id:sub\\c1\n')).toBe(true);
    const r = (await c.sendWithReceipt(ROOM(roomId), 'escapes 1.1', { receipt: 'snd:1' })).headers;
    const m = await c.next((f) => f.command === 'MESSAGE', PIPELINE_MS, 'MESSAGE');
    expect(m.headers.subscription).toBe(weird);
    expect(m.headers['message-id']).toBe(r['message-id']);
    expect(c.receivedContains('MESSAGE\nsubscription:a\\cb\\\\c\\nd\n')).toBe(true);
    expect(m.headers['created-at']).toBe(m.json.createdAt);
    expect(c.receivedContains(`created-at:${m.json.createdAt.replaceAll(':', '\\c')}\n`)).toBe(true);
    // "\r" is not an escape of STOMP 1.1: the frame is refused, and its receipt comes back escaped for 1.1.
    c.write(`SEND\ndestination:${ROOM(roomId)}\nreceipt:bad:1\nx-note:a\\rb\n\nnever stored\0`);
    await expectError(c, 'bad-frame', 'bad:1');
    expect(c.receivedContains('receipt-id:bad\\c1\n')).toBe(true);
    const marker = await peerSend(roomId, 'marker');
    const stored = await waitFor(
      async () => {
        const all = await api.allMessages(a, roomId);
        return all.some((x) => x.id === marker['message-id']) ? all : null;
      },
      PIPELINE_MS,
      'marker stored',
      200,
    );
    expect(stored.map((x: { content: string }) => x.content)).toEqual(['escapes 1.1', 'marker']);
  });

  it('1.0: nothing is escaped — x-path:C:\\temp is data, receipt:r:1 comes back receipt-id:r:1, created-at keeps its colons', async () => {
    const roomId = await room();
    const c = await wireAt('1.0');
    // SUBSCRIBE without id: the destination is the subscription id.
    await c.subscribe(ROOM(roomId), undefined, { receipt: 'r:1' });
    expect(c.receivedContains('\nreceipt-id:r:1\n')).toBe(true);
    await c.subscribe(ROOM(roomId), 'C:\\subs', { receipt: 'r:2' });
    c.write(`SEND\ndestination:${ROOM(roomId)}\nx-path:C:\\temp\nreceipt:s:1\n\nplain 1.0\0`);
    const r = (await c.receipt('s:1')).headers;
    expect(c.receivedContains('\nreceipt-id:s:1\n')).toBe(true);
    expect(r['message-id']).toMatch(UUID);
    expect(r.seq).toMatch(SEQ);
    await waitFor(() => c.messages().length === 2, PIPELINE_MS, 'the MESSAGE on both subscriptions');
    const byDest = c.messages((f) => f.headers.subscription === ROOM(roomId))[0]!;
    const byId = c.messages((f) => f.headers.subscription === 'C:\\subs')[0]!;
    for (const m of [byDest, byId]) {
      expect(m.headers['message-id']).toBe(r['message-id']);
      expect(m.headers.seq).toBe(r.seq);
      expect(m.headers['created-at']).toBe(m.json.createdAt);
      expect(m.json.content).toBe('plain 1.0');
    }
    expect(c.receivedContains(`MESSAGE\nsubscription:${ROOM(roomId)}\n`)).toBe(true);
    expect(c.receivedContains('MESSAGE\nsubscription:C:\\subs\n')).toBe(true);
    expect(c.receivedContains(`\ncreated-at:${byDest.json.createdAt}\n`)).toBe(true);
    expect(c.received.includes('\\c'), `no \\c anywhere: ${JSON.stringify(c.received.toString())}`).toBe(false);
    // UNSUBSCRIBE may name the destination.
    c.write(`UNSUBSCRIBE\ndestination:${ROOM(roomId)}\nreceipt:u:1\n\n\0`);
    await c.receipt('u:1');
    const x = await peerSend(roomId, 'after unsubscribe');
    await c.next((f) => f.command === 'MESSAGE' && f.headers['message-id'] === x['message-id'], PIPELINE_MS, 'marker on C:\\subs');
    expect(c.messages().map((f) => `${f.headers.subscription} ${f.json.content}`)).toEqual([
      expect.stringMatching(/ plain 1\.0$/),
      expect.stringMatching(/ plain 1\.0$/),
      'C:\\subs after unsubscribe',
    ]);
  });

  it('1.0: ack:client MESSAGEs have no ack header, ACK names message-id; NACK is an ERROR bad-frame', async () => {
    const roomId = await room();
    const c = await wireAt('1.0');
    await c.subscribe(ROOM(roomId), undefined, { receipt: 'sub', ack: 'client' });
    const r = await peerSend(roomId, 'ack me (1.0)');
    const m = await c.next((f) => f.command === 'MESSAGE', PIPELINE_MS, 'MESSAGE');
    expect(m.headers.ack).toBeUndefined();
    expect(m.headers['message-id']).toBe(r['message-id']);
    c.send('ACK', { 'message-id': m.headers['message-id']!, receipt: 'ack:1' });
    await c.receipt('ack:1');
    c.send('NACK', { 'message-id': m.headers['message-id']!, receipt: 'nack:1' });
    await expectError(c, 'bad-frame', 'nack:1');
    expect(c.receivedContains('\nreceipt-id:nack:1\n')).toBe(true);
  });

  it('1.0: ack:client-individual is refused (ERROR bad-frame)', async () => {
    const roomId = await room();
    const c = await wireAt('1.0');
    c.send('SUBSCRIBE', { destination: ROOM(roomId), ack: 'client-individual', receipt: 'ci' });
    await expectError(c, 'bad-frame', 'ci');
  });

  it('1.1: client-ack MESSAGEs have no ack header; ACK needs message-id (an ACK with only id is an ERROR bad-frame)', async () => {
    const roomId = await room();
    const c = await wireAt('1.1');
    await c.subscribe(ROOM(roomId), 'acks', { receipt: 'sub', ack: 'client' });
    await peerSend(roomId, 'ack me (1.1)');
    const m = await c.next((f) => f.command === 'MESSAGE', PIPELINE_MS, 'MESSAGE');
    expect(m.headers.ack).toBeUndefined();
    c.send('ACK', { 'message-id': m.headers['message-id']!, subscription: 'acks', receipt: 'ack-1' });
    await c.receipt('ack-1');
    c.send('NACK', { 'message-id': m.headers['message-id']!, subscription: 'acks', receipt: 'nack-1' });
    await c.receipt('nack-1');
    c.send('ACK', { id: m.headers['message-id']!, receipt: 'ack-2' });
    await expectError(c, 'bad-frame', 'ack-2');
  });

  it('1.2: client-ack MESSAGEs carry ack:<message-id>; ACK/NACK name it as id (an ACK with only message-id is an ERROR bad-frame)', async () => {
    const roomId = await room();
    const c = await wireAt('1.2');
    await c.subscribe(ROOM(roomId), 'acks', { receipt: 'sub', ack: 'client-individual' });
    await peerSend(roomId, 'ack me (1.2)');
    const m = await c.next((f) => f.command === 'MESSAGE', PIPELINE_MS, 'MESSAGE');
    expect(m.headers.ack).toBe(m.headers['message-id']);
    c.send('NACK', { id: m.headers.ack!, receipt: 'nack-1' });
    await c.receipt('nack-1');
    c.send('ACK', { id: m.headers.ack!, receipt: 'ack-1' });
    await c.receipt('ack-1');
    c.send('ACK', { 'message-id': m.headers['message-id']!, subscription: 'acks', receipt: 'ack-2' });
    await expectError(c, 'bad-frame', 'ack-2');
  });
});

// --- frame endings and ERROR frames -----------------------------------------------------------------------------

describe('frames on the wire', () => {
  for (const version of VERSIONS) {
    for (const kind of ['tcp', 'ws'] as const) {
      it(`${version} over ${kind}: every frame the server writes (CONNECTED, MESSAGE, RECEIPT, ERROR) ends with NUL + LF`, async () => {
        const roomId = await room();
        await seed(roomId, ['stored before']);
        const c = await wire(kind, A, [`v${version.replace('.', '')}.stomp`]);
        // 1.1/1.2: ask for the server's heart-beats too (EOLs between frames).
        await c.connectWith({
          ...(version === '1.0' ? {} : { 'accept-version': version, 'heart-beat': `0,${A_HEARTBEAT_MS}` }),
          host: 'chat',
          passcode: a.token,
        });
        const sub = await c.subscribe(ROOM(roomId), 's', { receipt: 'sub', 'since-seq': '0' });
        expect(sub.headers['replayed-count']).toBe('1');
        const r = (await c.sendWithReceipt(ROOM(roomId), `ending ${version} ${kind}`, { receipt: 'snd' })).headers;
        await c.next((f) => f.command === 'MESSAGE' && f.headers['message-id'] === r['message-id'], PIPELINE_MS, 'live MESSAGE');
        if (version !== '1.0') await waitFor(() => c.heartbeats.length >= 1, 10_000, 'a heart-beat');
        c.send('SUBSCRIBE', { destination: ROOM(outsiderRoom), id: 'x', receipt: 'forbidden' });
        await expectError(c, 'forbidden', 'forbidden');
        const frames = scanFrames(c.received);
        expect(new Set(frames.map((f) => f.command))).toEqual(new Set(['CONNECTED', 'MESSAGE', 'RECEIPT', 'ERROR']));
        expect(frames.length).toBe(c.frames.length);
        for (const f of frames) expect(f.after, `byte after the NUL of ${f.command} at ${f.nulAt}`).toBe(0x0a);
      });
    }
  }

  it('an ERROR before CONNECTED (bad token) ends with NUL + LF too, over TCP and WebSocket, written in the version asked for', async () => {
    for (const kind of ['tcp', 'ws'] as const) {
      for (const version of VERSIONS) {
        const c = await wire(kind);
        // CONNECT headers are never unescaped: the receipt is "c:1" as written.
        c.send('CONNECT', { ...(version === '1.0' ? {} : { 'accept-version': version }), host: 'chat', passcode: 'not-a-token', receipt: 'c:1' });
        c.version = version;
        await expectError(c, 'unauthorized', 'c:1');
        expect(
          c.receivedContains(version === '1.0' ? '\nreceipt-id:c:1\n' : '\nreceipt-id:c\\c1\n'),
          `${kind} ${version}: ${JSON.stringify(c.received.toString())}`,
        ).toBe(true);
        const frames = scanFrames(c.received);
        expect(frames.map((f) => [f.command, f.after])).toEqual([['ERROR', 0x0a]]);
      }
    }
  });

  for (const version of VERSIONS) {
    it(`${version}: ERROR carries message, content-type ${ERROR_CONTENT_TYPE}, the offending frame's receipt-id as ${version} writes it, a body; then the connection closes`, async () => {
      const c = await wireAt(version);
      c.send('SEND', { destination: '/queue/nowhere', receipt: 'e:1' }, 'to nowhere');
      const err = await expectError(c, 'unknown-destination', 'e:1');
      expect(c.receivedContains(version === '1.0' ? '\nreceipt-id:e:1\n' : '\nreceipt-id:e\\c1\n')).toBe(true);
      expect(err.text).toMatch(/\S/);
      // Without a receipt there is no receipt-id.
      const d = await wireAt(version);
      d.send('SUBSCRIBE', { destination: ROOM(outsiderRoom), id: 'x' });
      await expectError(d, 'forbidden');
    });
  }
});

// --- half-close -----------------------------------------------------------------------------------------------

describe('TCP half-close', () => {
  it('CONNECT + SUBSCRIBE(since-seq) + SENDs then end(): CONNECTED, the replay, every RECEIPT (after Kafka), then the server closes', async () => {
    const roomId = await room();
    const before = await seed(roomId, ['history 1', 'history 2']);
    const c = await wire('tcp');
    c.write(
      `CONNECT\naccept-version:1.2\nhost:chat\npasscode:${a.token}\n\n\0` +
        `SUBSCRIBE\nid:0\ndestination:${ROOM(roomId)}\nsince-seq:0\nreceipt:sub\n\n\0` +
        `SEND\ndestination:${ROOM(roomId)}\nreceipt:s1\n\nhalf-closed 1\0` +
        `SEND\ndestination:${ROOM(roomId)}\ncontent-type:application/json\nreceipt:s2\n\n{"content":"half-closed 2"}\0`,
    );
    c.end();
    await c.waitClosed(60_000);
    expect(c.frames[0]?.command).toBe('CONNECTED');
    expect(c.frames.filter((f) => f.command === 'ERROR')).toEqual([]);
    const receipts = new Map(c.frames.filter((f) => f.command === 'RECEIPT').map((f) => [f.headers['receipt-id'], f]));
    expect([...receipts.keys()].sort()).toEqual(['s1', 's2', 'sub']);
    for (const id of ['s1', 's2']) {
      expect(receipts.get(id)!.headers['message-id']).toMatch(UUID);
      expect(receipts.get(id)!.headers.seq).toMatch(SEQ);
    }
    expect(Number(receipts.get('sub')!.headers['replayed-count'])).toBeGreaterThanOrEqual(2);
    const replayed = c.frames.slice(0, c.frames.indexOf(receipts.get('sub')!)).filter((f) => f.command === 'MESSAGE');
    expect(replayed.slice(0, 2).map((f) => f.headers['message-id'])).toEqual(before.map((m: { id: string }) => m.id));
    // Both SENDs are stored, with the seqs of their RECEIPTs.
    const stored = await waitFor(
      async () => {
        const all = await api.allMessages(a, roomId);
        return all.length >= 4 ? all : null;
      },
      PIPELINE_MS,
      'stored',
      200,
    );
    expect(stored.slice(2).map((m: { seq: string; content: string }) => [m.seq, m.content])).toEqual([
      [receipts.get('s1')!.headers.seq, 'half-closed 1'],
      [receipts.get('s2')!.headers.seq, 'half-closed 2'],
    ]);
  });
});

// --- heart-beats ------------------------------------------------------------------------------------------------

describe('heart-beats', () => {
  it(
    'a silent client is cut at 2 × max(cx, HEARTBEAT_MS) + 2 s (±2 s); a heart-beating one is not; the server beats every max(cy, HEARTBEAT_MS); 1.0 never',
    async () => {
      type Case = { name: string; server: ServerProc; kind: 'tcp' | 'ws'; version: StompVersion; hb: string; cutAfter: number | null; beat?: number };
      const cases: Case[] = [
        { name: 'A 1.2 tcp 1000,0', server: A, kind: 'tcp', version: '1.2', hb: '1000,0', cutAfter: 2 * 1000 + 2000 },
        { name: 'A 1.2 ws 1000,0', server: A, kind: 'ws', version: '1.2', hb: '1000,0', cutAfter: 2 * 1000 + 2000 },
        { name: 'A 1.1 tcp 3000,0', server: A, kind: 'tcp', version: '1.1', hb: '3000,0', cutAfter: 2 * 3000 + 2000 },
        { name: 'B(3000) 1.2 tcp 1000,0', server: B, kind: 'tcp', version: '1.2', hb: '1000,0', cutAfter: 2 * 3000 + 2000 },
        { name: 'A 1.2 tcp 1000,0 beating', server: A, kind: 'tcp', version: '1.2', hb: '1000,0', cutAfter: null, beat: 1000 },
        { name: 'A 1.0 tcp 1000,1000 (ignored)', server: A, kind: 'tcp', version: '1.0', hb: '1000,1000', cutAfter: null },
        { name: 'A 1.2 tcp 0,1000 (server beats)', server: A, kind: 'tcp', version: '1.2', hb: '0,1000', cutAfter: null },
      ];
      const runs = await Promise.all(
        cases.map(async (tc) => {
          const c = await wire(tc.kind, tc.server, [`v${tc.version.replace('.', '')}.stomp`]);
          const t0 = Date.now();
          const f = await c.connectWith({
            ...(tc.version === '1.0' ? {} : { 'accept-version': tc.version }),
            host: 'chat',
            'heart-beat': tc.hb,
            passcode: a.token,
          });
          const timer = tc.beat ? setInterval(() => c.write('\n'), tc.beat) : null;
          return { tc, c, t0, f, timer };
        }),
      );
      try {
        // Wait for the cut ones (each within its deadline + 2 s + margin), then look at the others.
        await Promise.all(runs.filter((r) => r.tc.cutAfter !== null).map((r) => r.c.waitClosed(r.tc.cutAfter! + 8000)));
        const results = runs.map((r) => ({ name: r.tc.name, expected: r.tc.cutAfter, cutAfter: r.c.closedAt === null ? null : r.c.closedAt - r.t0 }));
        console.table(results);
        for (const r of runs) {
          if (r.tc.cutAfter === null) {
            expect(r.c.isClosed, `${r.tc.name}: still connected after ${Date.now() - r.t0} ms`).toBe(false);
          } else {
            const elapsed = r.c.closedAt! - r.t0;
            expect(elapsed, `${r.tc.name}: cut after ${elapsed} ms, expected ${r.tc.cutAfter} ± 2000`).toBeGreaterThanOrEqual(r.tc.cutAfter - 2000);
            expect(elapsed, `${r.tc.name}: cut after ${elapsed} ms, expected ${r.tc.cutAfter} ± 2000`).toBeLessThanOrEqual(r.tc.cutAfter + 2000);
          }
        }
        const server = runs.find((r) => r.tc.hb === '0,1000')!;
        const beats = [server.f.at, ...server.c.heartbeats];
        const gaps = beats.slice(1).map((t, i) => t - beats[i]!);
        expect(gaps.length, `server heart-beats ${gaps.join(',')}`).toBeGreaterThanOrEqual(5);
        const median = [...gaps].sort((x, y) => x - y)[Math.floor(gaps.length / 2)]!;
        expect(median, `gaps ${gaps.join(',')}`).toBeGreaterThanOrEqual(700);
        expect(median, `gaps ${gaps.join(',')}`).toBeLessThanOrEqual(1700);
        const v10 = runs.find((r) => r.tc.version === '1.0')!;
        expect(v10.c.heartbeats, 'no heart-beats in STOMP 1.0').toEqual([]);
      } finally {
        for (const r of runs) if (r.timer) clearInterval(r.timer);
      }
    },
    TEST_MS,
  );

  it(
    'the server writes at least every agreed interval, timed from its last write: traffic right after each beat never stretches a gap (raw TCP and WebSocket measure every gap; stompit and stompjs enforcing the interval stay up)',
    async () => {
      // The clients ask heart-beat 0,1500 and A offers 1000: the server owes a byte every 1.5 s. After server beats,
      // each client SENDs: its RECEIPT is written just after the beat — the worst phase for a beat on a fixed tick that
      // skips when anything was written (the next beat then came almost 2 × 1.5 s after the RECEIPT, and stompit and
      // stompjs, allowing 0.5 s of lateness, cut the connection).
      const EVERY = 1500;
      const TOLERANCE = 500;
      const RUN_MS = 16_000;
      const roomId = await room();
      const stop = Date.now() + RUN_MS;
      const sends: Array<Promise<unknown>> = [];
      const raws = await Promise.all(
        (['tcp', 'ws'] as const).map(async (kind) => {
          const c = await wire(kind);
          await c.connectWith({ 'accept-version': '1.2', host: 'chat', 'heart-beat': `0,${EVERY}`, passcode: a.token });
          return c;
        }),
      );
      const t0 = Date.now();
      const libs = await Promise.all(
        [stompitDriver('tcp', '1.2'), stompjsDriver('1.2')].map(async (d) => {
          let beats = 0;
          let inFlight = false;
          const box: { s?: Session } = {};
          // Every beat is answered (the library clients check by sampling, so they get as many stretched gaps as
          // possible); an EOL that arrives with our own RECEIPT (stompjs reports it as a beat) is not a beat.
          const onServerBeat = () => {
            if (inFlight || !box.s || Date.now() >= stop) return;
            beats++;
            inFlight = true;
            sends.push(
              box.s
                .send(ROOM(roomId), `${d.label} after beat ${beats}`)
                .catch((e: unknown) => e)
                .finally(() => (inFlight = false)),
            );
          };
          box.s = await d.open(A, a.token, { heartBeat: [0, EVERY], incomingMarginMs: TOLERANCE, onServerBeat });
          opened.push(box.s);
          return { label: d.label, s: box.s, beats: () => beats };
        }),
      );
      const seen = raws.map(() => 0);
      const answered = raws.map(() => 0);
      while (Date.now() < stop) {
        raws.forEach((c, i) => {
          if (c.heartbeats.length === seen[i]) return;
          seen[i] = c.heartbeats.length;
          if (seen[i]! % 2 === 0) {
            answered[i]!++;
            sends.push(c.sendWithReceipt(ROOM(roomId), `raw ${c.kind} after beat ${seen[i]}`));
          }
        });
        await sleep(10);
      }
      await Promise.all(sends);
      const table = raws.map((c, i) => {
        const times = [...c.frames.map((f) => f.at), ...c.heartbeats].filter((t) => t >= c.frames[0]!.at).sort((x, y) => x - y);
        times.push(Date.now());
        const gaps = times.slice(1).map((t, k) => t - times[k]!);
        return { client: `raw ${c.kind}`, beats: c.heartbeats.length, sendsAfterBeats: answered[i], maxGapMs: Math.max(...gaps), closed: c.isClosed };
      });
      console.table([...table, ...libs.map((l) => ({ client: l.label, beats: l.beats(), errors: JSON.stringify(l.s.errors), closed: l.s.isClosed }))]);
      for (const row of table) {
        expect(row.closed, row.client).toBe(false);
        expect(row.sendsAfterBeats, `${row.client}: traffic right after beats`).toBeGreaterThanOrEqual(3);
        expect(row.maxGapMs, `${row.client}: largest silence`).toBeLessThanOrEqual(EVERY + TOLERANCE);
      }
      for (const l of libs) {
        expect(l.s.errors, l.label).toEqual([]);
        expect(l.s.isClosed, `${l.label} cut the connection (a late server heart-beat)`).toBe(false);
        expect(l.beats(), `${l.label}: server heart-beats seen in ${Date.now() - t0} ms`).toBeGreaterThanOrEqual(4);
        await l.s.disconnect();
      }
    },
    TEST_MS,
  );

  it(
    '1.0: CONNECTED does not promise heart-beats the server will not send (no heart-beat header, or 0,0), so stompit 1.0 with heart-beats configured stays up',
    async () => {
      const c = await wire('tcp');
      const f = await c.connectWith({ host: 'chat', 'heart-beat': '1000,1000', passcode: a.token });
      expect(f.headers.version).toBe('1.0');
      expect.soft(f.headers['heart-beat'] ?? '0,0', `CONNECTED ${JSON.stringify(f.headers)}`).toBe('0,0');
      // stompit reads CONNECTED's heart-beat whatever the version: a promise of beats that never come makes it
      // cut the connection after one silent interval (+ its margin, 2 s here).
      const s = await stompitDriver('tcp', '1.0').open(A, a.token, { heartBeat: [1000, 1000] });
      opened.push(s);
      await sleep(7000);
      expect(s.errors, 'stompit 1.0 with heart-beat:1000,1000').toEqual([]);
      expect(s.isClosed).toBe(false);
      await s.disconnect();
    },
    TEST_MS,
  );
});

// --- authentication -------------------------------------------------------------------------------------------

describe('authentication precedence: Authorization > passcode > access_token', () => {
  it('TCP and WebSocket: the winning credential decides, a bad winner is refused even when a loser is good', async () => {
    const bearer = (u: Account | string) => `Bearer ${typeof u === 'string' ? u : u.token}`;
    type Case = { name: string; kind: 'tcp' | 'ws'; url?: string; headers: Record<string, string>; user: Account | null };
    const cases: Case[] = [
      { name: 'good Authorization, bad passcode', kind: 'tcp', headers: { Authorization: bearer(a), login: 'x', passcode: 'bad' }, user: a },
      {
        name: 'bad Authorization, good passcode',
        kind: 'tcp',
        headers: { Authorization: bearer('bad.token.here'), login: 'x', passcode: a.token },
        user: null,
      },
      { name: 'Authorization a, passcode b', kind: 'tcp', headers: { Authorization: bearer(a), passcode: b.token }, user: a },
      { name: 'passcode with any login', kind: 'tcp', headers: { login: b.email, passcode: a.token }, user: a },
      { name: 'lower-case authorization header', kind: 'tcp', headers: { authorization: bearer(b), passcode: a.token }, user: b },
      { name: 'ws: access_token a, passcode b', kind: 'ws', url: `${A.wsUrl}?access_token=${a.token}`, headers: { passcode: b.token }, user: b },
      { name: 'ws: good access_token, bad passcode', kind: 'ws', url: `${A.wsUrl}?access_token=${a.token}`, headers: { passcode: 'bad' }, user: null },
      {
        name: 'ws: good access_token, bad Authorization',
        kind: 'ws',
        url: `${A.wsUrl}?access_token=${a.token}`,
        headers: { Authorization: bearer('bad') },
        user: null,
      },
      { name: 'ws: access_token a, Authorization b', kind: 'ws', url: `${A.wsUrl}?access_token=${a.token}`, headers: { Authorization: bearer(b) }, user: b },
      { name: 'ws: bad access_token, good passcode', kind: 'ws', url: `${A.wsUrl}?access_token=bad`, headers: { passcode: a.token }, user: a },
      { name: 'ws: access_token only', kind: 'ws', url: `${A.wsUrl}?access_token=${a.token}`, headers: {}, user: a },
    ];
    for (const tc of cases) {
      const c = tc.url ? await RawConn.ws(tc.url, { protocols: ALL_SUBPROTOCOLS, binary: true }) : await wire(tc.kind);
      opened.push(c);
      c.send('CONNECT', { 'accept-version': '1.2', host: 'chat', ...tc.headers });
      const f = await c.next((x) => x.command === 'CONNECTED' || x.command === 'ERROR', 20_000, tc.name);
      if (tc.user) {
        expect(f.command, `${tc.name}: ${f.text}`).toBe('CONNECTED');
        expect(f.headers['user-name'], tc.name).toBe(tc.user.id);
      } else {
        expect(f.command, tc.name).toBe('ERROR');
        expect(f.headers.message, tc.name).toBe('unauthorized');
        await c.waitClosed(10_000);
      }
      c.destroy();
    }
  });
});

// --- rate limits -----------------------------------------------------------------------------------------------

describe(`rate limits are flow control (R: ${RATE_PER_SEC} SENDs/s per connection, burst ${RATE_PER_SEC}, RATE_ABUSE_MS=${RATE_ABUSE_MS})`, () => {
  let R: ServerProc;

  beforeAll(async () => {
    R = await startServer({
      instanceId: `interop-r-${process.pid}`,
      roles: 'gateway',
      env: {
        RATE_CONN_PER_SEC: String(RATE_PER_SEC),
        RATE_CONN_BURST: String(RATE_PER_SEC),
        RATE_ABUSE_MS: String(RATE_ABUSE_MS),
        HEARTBEAT_MS: String(R_HEARTBEAT_MS),
        FRAME_TIMEOUT_MS: String(R_FRAME_TIMEOUT_MS),
      },
    });
  }, TEST_MS);

  afterAll(async () => {
    await R?.stop();
  });

  for (const kind of ['tcp', 'ws'] as const) {
    it(
      `${kind}: three bursts of 10 SENDs: none refused, all RECEIPTed and stored, but read no faster than the rate (burst 2 after ≥ 1 s, burst 3 after ≥ 3 s)`,
      async () => {
        const roomId = await room();
        const c = await wire(kind, R);
        await c.connectWith({ 'accept-version': '1.2', host: 'chat', passcode: a.token });
        const t0 = Date.now();
        const firstReceiptAt: number[] = [];
        const all: Array<Record<string, string>> = [];
        for (let burst = 0; burst < 3; burst++) {
          let bytes = '';
          for (let i = 0; i < 10; i++) bytes += `SEND\ndestination:${ROOM(roomId)}\nreceipt:b${burst}-${i}\n\nburst ${burst} #${i}\0`;
          c.write(bytes);
          const receipts = [];
          for (let i = 0; i < 10; i++) receipts.push(await c.receipt(`b${burst}-${i}`, 60_000));
          firstReceiptAt.push(Math.min(...receipts.map((f) => f.at)) - t0);
          all.push(...receipts.map((f) => f.headers));
        }
        console.table(firstReceiptAt.map((ms, i) => ({ burst: i + 1, firstReceiptAfterMs: ms })));
        expect(c.frames.filter((f) => f.command === 'ERROR')).toEqual([]);
        expect(c.isClosed).toBe(false);
        // Debt after burst 1: 10 - 5 = 5 tokens = 1 s; after burst 2: 15 tokens = 3 s from the start.
        expect(firstReceiptAt[1]!).toBeGreaterThanOrEqual(1000 - 100);
        expect(firstReceiptAt[2]!).toBeGreaterThanOrEqual(3000 - 100);
        const stored = await waitFor(
          async () => {
            const got = await api.allMessages(a, roomId);
            return got.length >= 30 ? got : null;
          },
          PIPELINE_MS,
          '30 stored',
          200,
        );
        expect(stored.map((m: { id: string }) => m.id)).toEqual(all.map((h) => h['message-id']));
      },
      TEST_MS,
    );
  }

  it(
    'a heart-beating client that flow control stops reading for longer than its heart-beat deadline is not cut as dead',
    async () => {
      const roomId = await room();
      const c = await wire('tcp', R);
      // Deadline for a silent client: 2 x max(500, 500) + 2000 = 3000 ms. The client beats every 500 ms throughout.
      await c.connectWith({ 'accept-version': '1.2', host: 'chat', 'heart-beat': `${R_HEARTBEAT_MS},0`, passcode: a.token });
      const beat = setInterval(() => c.write('\n'), R_HEARTBEAT_MS);
      try {
        // 28 SENDs in one write: 23 over the burst = 4.6 s without reading (longer than the 3 s deadline, shorter than
        // RATE_ABUSE_MS), then one more SEND that is read only after that pause.
        let bytes = '';
        for (let i = 0; i < 28; i++) bytes += `SEND\ndestination:${ROOM(roomId)}\nreceipt:p${i}\n\npaused ${i}\0`;
        const t0 = Date.now();
        c.write(bytes);
        for (let i = 0; i < 28; i++) await c.receipt(`p${i}`);
        c.send('SEND', { destination: ROOM(roomId), receipt: 'after-pause' }, 'after the pause');
        await c.next((f) => f.headers['receipt-id'] === 'after-pause', 60_000, 'RECEIPT after-pause').catch(() => null);
        expect(c.isClosed, `connection cut ${c.closedAt! - t0} ms after the burst (frames ${c.describe()})`).toBe(false);
        const after = await c.receipt('after-pause');
        console.table([{ receiptAfterPauseMs: after.at - t0 }]);
        expect(after.at - t0).toBeGreaterThanOrEqual(4600 - 200);
        expect(after.headers.seq).toMatch(SEQ);
        expect(c.isClosed).toBe(false);
        expect(c.frames.filter((f) => f.command === 'ERROR')).toEqual([]);
      } finally {
        clearInterval(beat);
      }
    },
    TEST_MS,
  );

  it(
    'a frame cut in two by a flow-control pause is completed after the pause, not timed out (FRAME_TIMEOUT_MS=2000)',
    async () => {
      const roomId = await room();
      const c = await wire('tcp', R);
      await c.connectWith({ 'accept-version': '1.2', host: 'chat', passcode: a.token });
      // 28 SENDs (4.6 s of debt) and the first half of a 29th in one write; the second half right after.
      let bytes = '';
      for (let i = 0; i < 28; i++) bytes += `SEND\ndestination:${ROOM(roomId)}\nreceipt:f${i}\n\ncut ${i}\0`;
      const last = `SEND\ndestination:${ROOM(roomId)}\nreceipt:cut-in-two\n\nthe frame cut in two\0`;
      const t0 = Date.now();
      c.write(bytes + last.slice(0, 20));
      for (let i = 0; i < 28; i++) await c.receipt(`f${i}`);
      c.write(last.slice(20));
      await c.next((f) => f.headers['receipt-id'] === 'cut-in-two', 60_000, 'RECEIPT cut-in-two').catch(() => null);
      const err = c.frames.find((f) => f.command === 'ERROR');
      expect(err, `ERROR ${err?.headers.message} (${err?.text}) ${err ? err.at - t0 : 0} ms after the burst`).toBeUndefined();
      const r = await c.receipt('cut-in-two');
      expect(r.at - t0).toBeGreaterThanOrEqual(4600 - 200);
      expect(r.headers.seq).toMatch(SEQ);
    },
    TEST_MS,
  );

  it(
    `a connection kept over the rate for RATE_ABUSE_MS gets ERROR rate-limited — after a RECEIPT for every SEND it accepted`,
    async () => {
      const roomId = await room();
      const c = await wire('tcp', R);
      await c.connectWith({ 'accept-version': '1.2', host: 'chat', passcode: a.token });
      // Keep 8 SENDs in flight: always over 5/s, with SENDs accepted but not yet acknowledged when the limit hits
      // (and some not read at all: those must be neither acknowledged nor stored).
      const writtenAt: number[] = [];
      const receipted = () => c.frames.filter((f) => f.command === 'RECEIPT').length;
      const t0 = Date.now();
      while (!c.isClosed && Date.now() - t0 < 60_000) {
        while (writtenAt.length - receipted() < 8) {
          const i = writtenAt.length;
          writtenAt.push(Date.now());
          c.write(`SEND\ndestination:${ROOM(roomId)}\nreceipt:k${i}\n\nkept over ${i}\0`);
        }
        await sleep(10);
      }
      const err = await expectError(c, 'rate-limited');
      const overSince = writtenAt[RATE_PER_SEC]!; // the first SEND beyond the burst
      const errAfter = err.at - overSince;
      const receipts = c.frames.filter((f) => f.command === 'RECEIPT');
      console.table([{ written: writtenAt.length, receipted: receipts.length, errorAfterOverMs: errAfter }]);
      expect(errAfter, 'ERROR only after RATE_ABUSE_MS over the rate').toBeGreaterThanOrEqual(RATE_ABUSE_MS - 200);
      expect(errAfter, 'ERROR not long after RATE_ABUSE_MS').toBeLessThanOrEqual(RATE_ABUSE_MS + 10_000);
      // The accepted SENDs are a prefix of those written, each RECEIPTed before the ERROR, with message-id and seq.
      expect(receipts.map((f) => f.headers['receipt-id'])).toEqual(receipts.map((_, i) => `k${i}`));
      for (const f of receipts) {
        expect(f.headers['message-id']).toMatch(UUID);
        expect(f.headers.seq).toMatch(SEQ);
      }
      // Exactly those are stored: a marker from another connection, after them in the room's log, is the barrier.
      const marker = await peerSend(roomId, 'marker');
      const stored = await waitFor(
        async () => {
          const got = await api.allMessages(a, roomId);
          return got.some((m) => m.id === marker['message-id']) ? got : null;
        },
        PIPELINE_MS,
        'marker stored',
        200,
      );
      expect(stored.map((m: { id: string }) => m.id)).toEqual([...receipts.map((f) => f.headers['message-id']), marker['message-id']]);
    },
    TEST_MS,
  );
});

// --- client libraries and raw clients through a whole session ------------------------------------------------

const DRIVERS: Driver[] = [
  rawDriver('tcp', '1.0'),
  rawDriver('tcp', '1.1'),
  rawDriver('tcp', '1.2'),
  rawDriver('ws', '1.0'),
  rawDriver('ws', '1.1'),
  rawDriver('ws', '1.2'),
  stompitDriver('tcp', '1.0'),
  stompitDriver('tcp', '1.1'),
  stompitDriver('tcp', '1.2'),
  stompitDriver('ws', '1.2'),
  stompjsDriver('1.2'),
  stompjsDriver('1.0'),
];

async function open(d: Driver, heartBeats = true): Promise<Session> {
  const s = await d.open(A, a.token, heartBeats && d.version !== '1.0' ? { heartBeat: [A_HEARTBEAT_MS, A_HEARTBEAT_MS] } : {});
  opened.push(s);
  return s;
}

function ofId(s: Session, messageId: string | undefined, sub?: string): Delivered[] {
  return s.messages.filter((m) => m.headers['message-id'] === messageId && (sub === undefined || m.sub === sub));
}

describe.each(DRIVERS.map((d) => [d.label, d] as const))('%s', (_label, d) => {
  it(
    'connect, two subscriptions, SEND with RECEIPT, MESSAGEs (own and from the other instance), idle with heart-beats, UNSUBSCRIBE, DISCONNECT',
    async () => {
      const roomId = await room();
      const s = await open(d);
      expect(s.connected.version).toBe(d.version);
      expect(s.connected['user-name']).toBe(a.id);
      if (d.version !== '1.0') expect(s.connected['heart-beat']).toBe(`${A_HEARTBEAT_MS},${A_HEARTBEAT_MS}`);
      // Raw 1.0 subscribes without id: the destination names the subscription.
      const mainId = d.lib === 'raw' && d.version === '1.0' ? undefined : 'main';
      const main = mainId ?? ROOM(roomId);
      await s.subscribe(ROOM(roomId), mainId);
      await s.subscribe(ROOM(roomId), 'second');

      const r = await s.send(ROOM(roomId), `hello from ${d.label}`);
      expect(r['message-id']).toMatch(UUID);
      expect(r.seq).toMatch(SEQ);
      await waitFor(() => ofId(s, r['message-id']).length === 2, PIPELINE_MS, 'own MESSAGE on both subscriptions');
      expect(
        ofId(s, r['message-id'])
          .map((m) => m.sub)
          .sort(),
      ).toEqual([main, 'second'].sort());
      for (const m of ofId(s, r['message-id'])) expectMessage(m, r, roomId, a.id, `hello from ${d.label}`);

      const p = await peerSend(roomId, 'from instance B');
      await waitFor(() => ofId(s, p['message-id']).length === 2, PIPELINE_MS, "the peer's MESSAGE on both subscriptions");
      for (const m of ofId(s, p['message-id'])) expectMessage(m, p, roomId, b.id, 'from instance B');

      // Idle past the server's deadline for a silent client (2 x 1000 + 2000 ms): the library's heart-beats keep it.
      await sleep(5000);
      expect(s.isClosed, `${d.label} still connected; errors ${JSON.stringify(s.errors)}`).toBe(false);
      expect(s.errors).toEqual([]);

      await s.unsubscribe(mainId ?? main, mainId === undefined ? main : undefined);
      const x = await peerSend(roomId, 'after unsubscribe');
      const y = await peerSend(roomId, 'marker');
      await waitFor(() => ofId(s, y['message-id'], 'second').length === 1, PIPELINE_MS, 'marker on the second subscription');
      expect(s.messages.filter((m) => m.sub === main).map((m) => m.json.content)).toEqual([`hello from ${d.label}`, 'from instance B']);
      expect(s.messages.filter((m) => m.sub === 'second').map((m) => m.headers['message-id'])).toEqual([r, p, x, y].map((h) => h['message-id']));
      await s.disconnect();
      expect(s.errors).toEqual([]);
    },
    TEST_MS,
  );

  it(
    'ack:client — ACK is cumulative' + (d.version === '1.0' ? '' : ', NACK leaves a message unacknowledged') + '; a new session resumes after the last ACK',
    async () => {
      const roomId = await room();
      const s = await open(d, false);
      await s.subscribe(ROOM(roomId), 'acks', 'client');
      const sent = [await peerSend(roomId, 'm1'), await peerSend(roomId, 'm2'), await peerSend(roomId, 'm3')];
      await waitFor(() => s.messages.length === 3, PIPELINE_MS, '3 MESSAGEs');
      expect(s.messages.map((m) => m.headers['message-id'])).toEqual(sent.map((h) => h['message-id']));
      for (const m of s.messages) expect(m.headers.ack).toBe(d.version === '1.2' ? m.headers['message-id'] : undefined);
      await s.ack(s.messages[1]!);
      if (d.version !== '1.0') await s.nack(s.messages[2]!);
      await s.disconnect();
      // The resume replays from the store: let it hold them (a store more than 10 s behind ends a replay early).
      await stored(
        roomId,
        sent.map((h) => h['message-id']!),
      );

      const again = await open(d, false);
      await again.subscribe(ROOM(roomId), 'acks', 'client');
      const m4 = await peerSend(roomId, 'm4');
      await waitFor(() => ofId(again, m4['message-id']).length === 1, PIPELINE_MS, 'm4');
      expect(again.messages.map((m) => m.json.content)).toEqual(['m3', 'm4']);
      await again.disconnect();
    },
    TEST_MS,
  );

  it(
    d.version === '1.0'
      ? 'ack:client-individual is refused in 1.0, and the library reports the ERROR bad-frame'
      : 'ack:client-individual — ACK acknowledges one message; a new session resumes at the oldest unacknowledged one',
    async () => {
      const roomId = await room();
      const s = await open(d, false);
      if (d.version === '1.0') {
        s.subscribeNoWait(ROOM(roomId), 'ci', 'client-individual');
        const err = await s.nextError();
        expect(err.message).toBe('bad-frame');
        await waitFor(() => s.isClosed, 15_000, 'closed after the ERROR');
        return;
      }
      await s.subscribe(ROOM(roomId), 'ci', 'client-individual');
      const sent = [await peerSend(roomId, 'm1'), await peerSend(roomId, 'm2'), await peerSend(roomId, 'm3')];
      await waitFor(() => s.messages.length === 3, PIPELINE_MS, '3 MESSAGEs');
      expect(s.messages.map((m) => m.headers['message-id'])).toEqual(sent.map((h) => h['message-id']));
      await s.ack(s.messages[0]!);
      await s.ack(s.messages[2]!);
      await s.disconnect();
      await stored(
        roomId,
        sent.map((h) => h['message-id']!),
      );

      const again = await open(d, false);
      await again.subscribe(ROOM(roomId), 'ci', 'client-individual');
      const m4 = await peerSend(roomId, 'm4');
      await waitFor(() => ofId(again, m4['message-id']).length === 1, PIPELINE_MS, 'm4');
      const contents = again.messages.map((m) => m.json.content);
      // m2 was never acknowledged: redelivered first; m1 was, and never comes back.
      expect(contents[0]).toBe('m2');
      expect(contents).not.toContain('m1');
      expect(contents[contents.length - 1]).toBe('m4');
      await again.disconnect();
    },
    TEST_MS,
  );

  it(
    'errors reach the application: a forbidden SUBSCRIBE and a SEND to an unknown destination (and the process lives on)',
    async () => {
      const s1 = await open(d, false);
      s1.subscribeNoWait(ROOM(outsiderRoom), 'nope');
      const e1 = await s1.nextError();
      expect(e1.message).toBe('forbidden');
      if (d.lib !== 'stompit') expect(e1.body).toMatch(/\S/);
      await waitFor(() => s1.isClosed, 15_000, 'closed after forbidden');

      const s2 = await open(d, false);
      s2.sendNoWait('/queue/nowhere', 'hello?');
      const e2 = await s2.nextError();
      expect(e2.message).toBe('unknown-destination');
      await waitFor(() => s2.isClosed, 15_000, 'closed after unknown-destination');
      // The process is fine: a new session works.
      const s3 = await open(d, false);
      const roomId = await room();
      const r = await s3.send(ROOM(roomId), 'still alive');
      expect(r.seq).toMatch(SEQ);
      await s3.disconnect();
    },
    TEST_MS,
  );
});

// --- the README walkthrough with nc, and the CLI ---------------------------------------------------------------

/** The `nc` walkthrough of README.md ("Manual testing"), run as written but for the port. */
const NC_SEND = `printf 'CONNECT\\naccept-version:1.2\\nhost:chat\\npasscode:%s\\n\\n\\0SEND\\ndestination:/topic/rooms.%s\\nreceipt:m1\\n\\nhello over nc\\0DISCONNECT\\nreceipt:bye\\n\\n\\0' "$TA" "$ROOM" | nc -q1 127.0.0.1 61613 | cat -v`;
const NC_HISTORY = `printf 'CONNECT\\naccept-version:1.2\\nhost:chat\\npasscode:%s\\n\\n\\0SUBSCRIBE\\nid:0\\ndestination:/topic/rooms.%s\\nsince-seq:0\\nreceipt:caught-up\\n\\n\\0' "$TB" "$ROOM" | nc -q1 127.0.0.1 61613 | cat -v`;

function bash(script: string, env: Record<string, string>, port: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // pipefail: a failing nc (or none installed: npm test installs netcat-openbsd) is an error, not an empty `cat -v`.
  return run('bash', ['-o', 'pipefail', '-c', script.replaceAll('61613', String(port))], env);
}

function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 90_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawnLogged(cmd, args, env);
  return withDeadline(p.exited, timeoutMs, `${cmd} ${args.join(' ')}`).then((code) => ({ code, stdout: p.stdout(), stderr: p.stderr() }));
}

interface Child {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

function spawnLogged(cmd: string, args: string[], env: Record<string, string> = {}): Child {
  // node_modules/.bin first: tsx's `#!/usr/bin/env node` must find the project's Node, as `npm run` does.
  const PATH = `${ROOT}node_modules/.bin:${dirname(process.execPath)}:${process.env.PATH ?? ''}`;
  const proc = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, PATH, CHAT_TOKEN: '', CHAT_URL: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));
  opened.push({ destroy: () => proc.kill('SIGKILL') });
  return { proc, stdout: () => out, stderr: () => err, exited };
}

const TSX = `${ROOT}node_modules/.bin/tsx`;
const cli = (args: string[], env: Record<string, string> = {}) => run(TSX, ['scripts/stomp.ts', ...args], env);

describe('manual testing: the README nc walkthrough and npm run stomp', () => {
  it(
    'README: printf … | nc -q1 sends with a RECEIPT (message-id, seq) and replays history with since-seq, then the server closes',
    async () => {
      const roomId = await room();
      const env = { TA: a.token, TB: b.token, ROOM: roomId };
      let sent = { code: null as number | null, stdout: '', stderr: '' };
      let seq: string | undefined;
      // The history line below replays what was broadcast and stored by then: the peer watches the send go through.
      await settle(roomId, async () => {
        sent = await bash(NC_SEND, env, A.tcpPort);
        expect(sent.code, sent.stderr).toBe(0);
        expect(sent.stdout).toMatch(/^CONNECTED\nversion:1\.2\n/);
        const m = /RECEIPT\nreceipt-id:m1\nmessage-id:([0-9a-f-]{36})\nseq:(\d+)\n\n\^@\n/.exec(sent.stdout);
        expect(m, sent.stdout).not.toBeNull();
        seq = m![2];
        return [m![1]!];
      });
      expect(seq).toMatch(SEQ);
      expect(sent.stdout).toMatch(/RECEIPT\nreceipt-id:bye\n\n\^@\n$/);
      const history = await bash(NC_HISTORY, env, A.tcpPort);
      expect(history.code, history.stderr).toBe(0);
      expect(history.stdout).toContain(`"content":"hello over nc"`);
      expect(history.stdout).toMatch(new RegExp(`MESSAGE\\nsubscription:0\\n[^]*seq:${seq}\\n`));
      expect(history.stdout).toMatch(/RECEIPT\nreceipt-id:caught-up\nreplayed-count:1\nreplay-end-seq:\d+\n\n\^@\n$/);
    },
    TEST_MS,
  );

  it(
    '--help prints the usage; bad usage and missing credentials exit 1 with a clear message',
    async () => {
      const help = await cli(['--help']);
      expect(help.code).toBe(0);
      for (const word of ['connect', 'subscribe', 'send', 'history', 'rooms', '--since-seq', '--tcp', '--token', '--stomp-version', '--raw'])
        expect(help.stdout).toContain(word);
      const none = await cli(['send', '1', 'hi', '--url', A.baseUrl]);
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/^error: no credentials: give --token <jwt>, --email\/--password, or set CHAT_TOKEN/m);
      const bad = await cli(['frobnicate', '--token', a.token]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('unknown command "frobnicate"');
      const version = await cli(['connect', '--stomp-version', '2.0', '--token', a.token]);
      expect(version.code).toBe(1);
      expect(version.stderr).toContain('--stomp-version must be 1.0, 1.1 or 1.2');
    },
    TEST_MS,
  );

  it('subscribe (TCP, instance B) prints what send (WebSocket, instance A) sent; history and rooms over REST', async () => {
    const roomId = await room();
    const sub = spawnLogged(TSX, [
      'scripts/stomp.ts',
      'subscribe',
      roomId,
      '--tcp',
      `127.0.0.1:${B.tcpPort}`,
      '--url',
      B.baseUrl,
      '--count',
      '2',
      '--token',
      b.token,
    ]);
    await waitFor(() => sub.stderr().includes('subscribed to'), 60_000, `subscribe ready (stderr: ${sub.stderr()})`);
    const s1 = await cli(['send', roomId, 'hello', 'from', 'the', 'CLI', '--url', A.baseUrl, '--token', a.token]);
    expect(s1.code, s1.stderr).toBe(0);
    const m1 = /^message-id=([0-9a-f-]{36}) seq=(\d+)$/m.exec(s1.stdout);
    expect(m1, s1.stdout).not.toBeNull();
    // --email/--password log in over REST; STOMP 1.0 over TCP this time.
    const s2 = await cli([
      'send',
      roomId,
      'second: a:b\\c',
      '--tcp',
      `127.0.0.1:${A.tcpPort}`,
      '--url',
      A.baseUrl,
      '--email',
      a.email,
      '--password',
      'correct horse battery',
      '--stomp-version',
      '1.0',
    ]);
    expect(s2.code, s2.stderr).toBe(0);
    const m2 = /^message-id=([0-9a-f-]{36}) seq=(\d+)$/m.exec(s2.stdout)!;
    expect(m2).not.toBeNull();
    const code = await withDeadline(sub.exited, 60_000, 'subscribe --count 2 exits');
    expect(code, sub.stderr()).toBe(0);
    const lines = sub.stdout().trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^#${m1![2]}  \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z  interop \\(${a.id}\\): hello from the CLI$`)),
      expect.stringMatching(new RegExp(`^#${m2[2]}  \\S+  interop \\(${a.id}\\): second: a:b\\\\c$`)),
    ]);
    expect(sub.stderr()).toContain('disconnected');

    const history = await waitFor(
      async () => {
        const h = await cli(['history', roomId, '--limit', '10', '--url', A.baseUrl, '--token', b.token]);
        return h.stdout.trim().split('\n').length === 2 ? h : null;
      },
      PIPELINE_MS,
      'history of 2',
    );
    expect(history.code).toBe(0);
    expect(history.stdout.trim().split('\n')).toEqual(lines);
    const rooms = await cli(['rooms', '--url', A.baseUrl, '--token', b.token]);
    expect(rooms.code).toBe(0);
    expect(rooms.stdout).toMatch(new RegExp(`^${roomId}  GROUP  interop-\\S+  members=2 unread=\\d+  last #${m2[2]}: second: a:b\\\\c$`, 'm'));
  }, 180_000);

  it(
    'subscribe --since-seq replays; Ctrl-C sends DISCONNECT and waits for its RECEIPT (--raw shows the frames, escapes visible)',
    async () => {
      const roomId = await room();
      const [first] = await seed(roomId, ['one', 'two']);
      const sub = spawnLogged(TSX, [
        'scripts/stomp.ts',
        'subscribe',
        roomId,
        '--since-seq',
        first!.seq,
        '--url',
        A.baseUrl,
        '--token',
        b.token,
        '--raw',
        '--stomp-version',
        '1.1',
      ]);
      await waitFor(() => sub.stderr().includes('subscribed to'), 60_000, `subscribe ready (stderr: ${sub.stderr()})`);
      expect(sub.stderr()).toContain('replayed 1 message(s)');
      const out = sub.stdout();
      expect(out).toContain('>>> CONNECT\\n\n>>> accept-version:1.1\\n\n');
      expect(out).toContain('<<< CONNECTED\\n\n<<< version:1.1\\n\n');
      expect(out).toMatch(/<<< created-at:\d{4}-\d\d-\d\dT\d\d\\c\d\d\\c\d\d\.\d{3}Z\\n\n/);
      expect(out).toMatch(/"content":"two"[^\n]*\\0\\n\n/);
      expect(out).toMatch(/#\d+ {2}\S+ {2}interop \(\d+\): two\n/);
      expect(out).not.toContain(b.token);
      sub.proc.kill('SIGINT');
      const code = await withDeadline(sub.exited, 30_000, 'exit after SIGINT');
      expect(code, sub.stderr()).toBe(0);
      expect(sub.stdout()).toMatch(/>>> DISCONNECT\\n\n>>> receipt:(\S+)\\n\n>>> \\n\n>>> \\0\\n\n[^]*<<< RECEIPT\\n\n<<< receipt-id:\1\\n\n/);
      expect(sub.stderr()).toContain('disconnected');
    },
    TEST_MS,
  );

  it(
    'connect prints the CONNECTED headers; an ERROR is printed with its code and body, exit 1',
    async () => {
      const c = await cli(['connect', '--tcp', `127.0.0.1:${A.tcpPort}`, '--stomp-version', '1.0', '--token', a.token]);
      expect(c.code, c.stderr).toBe(0);
      expect(c.stdout).toContain('CONNECTED\n  version: 1.0\n');
      expect(c.stdout).toContain(`  user-name: ${a.id}\n`);
      expect(c.stdout).toContain(`  server: kafka-stomp-chat/${A.instanceId}\n`);
      const forbidden = await cli(['send', outsiderRoom, 'let me in', '--url', A.baseUrl, '--token', a.token]);
      expect(forbidden.code).toBe(1);
      expect(forbidden.stderr).toMatch(/^ERROR forbidden: \S.* \(receipt-id send-1\)$/m);
      const unauthorized = await cli(['connect', '--url', A.baseUrl, '--token', 'not-a-jwt']);
      expect(unauthorized.code).toBe(1);
      expect(unauthorized.stderr).toMatch(/^ERROR unauthorized: \S/m);
      const rest = await cli(['history', outsiderRoom, '--url', A.baseUrl, '--token', a.token]);
      expect(rest.code).toBe(1);
      expect(rest.stderr).toMatch(/HTTP 403 forbidden/);
    },
    TEST_MS,
  );
});
