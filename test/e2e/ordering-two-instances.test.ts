// Claims 1 and 2: per-room ordering and scale-out. Two real server processes; 100 concurrent
// senders x 10 messages in one room; receivers on both instances over WebSocket and TCP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from '../support/api.js';
import { startServer, waitFor, type ServerProc } from '../support/cluster.js';
import { TcpStomp, WsStomp, type Received } from '../support/stomp.js';

const SENDERS = 100;
const PER_SENDER = 10;
const TOTAL = SENDERS * PER_SENDER;

describe('two instances, one room, 100 concurrent senders', () => {
  let a: ServerProc;
  let b: ServerProc;
  let apiA: Api;
  const closers: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    [a, b] = await Promise.all([startServer(), startServer()]);
    apiA = new Api(a.baseUrl);
  });

  afterAll(async () => {
    for (const c of closers) await c().catch(() => {});
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('users on different instances chat: WebSocket on one, TCP on the other', async () => {
    const [alice, bob] = await apiA.pair('pair');
    const room = await apiA.call('POST', '/api/rooms', alice.token, { type: 'DIRECT', peerUserId: bob.id });
    expect(room.status).toBe(201);
    const again = await apiA.call('POST', '/api/rooms', bob.token, { type: 'DIRECT', peerUserId: alice.id });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(room.body.id);

    const ws = await WsStomp.connect(a.wsUrl, alice.token);
    const tcp = await TcpStomp.connect(b.tcpPort, bob.token);
    closers.push(
      () => ws.close(),
      () => tcp.close(),
    );
    const atAlice: Received[] = [];
    const atBob: Received[] = [];
    await ws.subscribe(`/topic/rooms.${room.body.id}`, (m) => atAlice.push(m));
    tcp.subscribe(`/topic/rooms.${room.body.id}`, (m) => atBob.push(m));
    // stompit has no receipt API on subscribe: wait until bob's subscription carries a message.
    await waitFor(
      async () => {
        await ws.send(`/topic/rooms.${room.body.id}`, 'ping from alice');
        return atBob.length > 0;
      },
      60_000,
      'bob subscribed on instance b',
      500,
    );
    const real = (list: Received[]) => list.filter((m) => m.body.content !== 'ping from alice');

    const receipt = await ws.send(`/topic/rooms.${room.body.id}`, 'hi bob, 안녕');
    expect(receipt['message-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(receipt.seq)).toBeGreaterThan(0);
    await tcp.send(`/topic/rooms.${room.body.id}`, 'hi alice');
    await waitFor(() => real(atAlice).length >= 2 && real(atBob).length >= 2, 20_000, 'both messages on both sides');
    expect(real(atAlice).map((m) => m.body.content)).toEqual(['hi bob, 안녕', 'hi alice']);
    expect(real(atBob).map((m) => m.body.content)).toEqual(['hi bob, 안녕', 'hi alice']);
    const first = real(atBob)[0]!;
    expect(first.headers['message-id']).toBe(receipt['message-id']);
    expect(first.headers.seq).toBe(receipt.seq);
    expect(first.headers['room-id']).toBe(room.body.id);
    expect(first.headers['sender-id']).toBe(alice.id);
    expect(first.headers['message-type']).toBe('TEXT');
    expect(first.headers['content-type']).toBe('application/json');
    expect(first.body).toMatchObject({ id: receipt['message-id'], seq: receipt.seq, roomId: room.body.id, senderId: alice.id, unreadCount: 1 });
  });

  it('every receiver on both instances gets all 1000 exactly once, in one order equal to history', async () => {
    const owner = (await apiA.users(1, 'owner'))[0]!;
    const senders = await apiA.users(SENDERS, 'sender');
    const roomId = await apiA.group(owner, senders);

    // Receivers: WebSocket and TCP on each instance.
    const received: Array<{ name: string; list: Received[] }> = [];
    const ownerWsA = await WsStomp.connect(a.wsUrl, owner.token);
    const ownerWsB = await WsStomp.connect(b.wsUrl, owner.token);
    closers.push(
      () => ownerWsA.close(),
      () => ownerWsB.close(),
    );
    for (const [name, c] of [
      ['ws@a', ownerWsA],
      ['ws@b', ownerWsB],
    ] as const) {
      const list: Received[] = [];
      received.push({ name, list });
      await c.subscribe(`/topic/rooms.${roomId}`, (m) => list.push(m));
    }
    for (const [name, server] of [
      ['tcp@a', a],
      ['tcp@b', b],
    ] as const) {
      const tcp = await TcpStomp.connect(server.tcpPort, owner.token);
      closers.push(() => tcp.close());
      const list: Received[] = [];
      received.push({ name, list });
      tcp.subscribe(`/topic/rooms.${roomId}`, (m) => list.push(m));
    }
    // stompit cannot wait for a subscription receipt: a marker message proves every receiver is live.
    await waitFor(
      async () => {
        await ownerWsA.send(`/topic/rooms.${roomId}`, 'warm-up');
        return received.every((r) => r.list.length > 0);
      },
      30_000,
      'all receivers live',
      500,
    );
    await waitFor(() => received.every((r) => r.list.some((m) => m.body.content === 'warm-up')), 10_000, 'warm-ups');
    const warmups = received[0]!.list.length;
    await new Promise((r) => setTimeout(r, 500));
    for (const r of received) r.list.length = 0;
    void warmups;

    // 100 senders, half on each instance, each sending 10 messages as fast as receipts allow.
    const conns = await Promise.all(senders.map((s, i) => WsStomp.connect((i % 2 ? b : a).wsUrl, s.token)));
    closers.push(...conns.map((c) => () => c.close()));
    const t0 = Date.now();
    await Promise.all(
      conns.map(async (c, i) => {
        const pending = [];
        // Pipelined: all 10 SENDs go out back to back; FIFO must hold without waiting for receipts.
        for (let k = 0; k < PER_SENDER; k++) pending.push(c.send(`/topic/rooms.${roomId}`, `s${i}:${k}`));
        await Promise.all(pending);
      }),
    );
    const sendMs = Date.now() - t0;

    await waitFor(() => received.every((r) => r.list.length >= TOTAL), 60_000, `all ${TOTAL} messages at every receiver`);
    await new Promise((r) => setTimeout(r, 500)); // anything extra (a duplicate) would arrive now

    const reference = received[0]!.list.map((m) => m.body.id);
    for (const { name, list } of received) {
      const ids = list.map((m) => m.body.id);
      expect(ids.length, `${name} count`).toBe(TOTAL);
      expect(new Set(ids).size, `${name} unique`).toBe(TOTAL);
      expect(ids, `${name} order equals ws@a order`).toEqual(reference);
      const seqs = list.map((m) => BigInt(m.headers.seq!));
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]! > seqs[i - 1]!, `${name} seq increasing at ${i}`).toBe(true);
      // Per-sender FIFO: each sender's k = 0..9 in order.
      const next = new Map<string, number>();
      for (const m of list) {
        const [s, k] = String(m.body.content).split(':');
        expect(Number(k), `${name} FIFO of ${s}`).toBe(next.get(s!) ?? 0);
        next.set(s!, Number(k) + 1);
      }
      expect(next.size).toBe(SENDERS);
    }

    // Stored history, paged with afterSeq, is the same order with the same seqs.
    const stored = await waitFor(
      async () => {
        const all = (await apiA.allMessages(owner, roomId)).filter((m) => m.content !== 'warm-up');
        return all.length >= TOTAL ? all : null;
      },
      30_000,
      'history complete',
      200,
    );
    expect(stored.map((m: { id: string }) => m.id)).toEqual(reference);
    expect(stored.map((m: { seq: string }) => m.seq)).toEqual(received[0]!.list.map((m) => m.headers.seq));
    console.log(`[ordering] ${TOTAL} messages from ${SENDERS} senders in ${sendMs} ms; 4 receivers x ${TOTAL} exact`);
  });
});
