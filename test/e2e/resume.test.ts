// Claim 5: reconnection recovery. A subscriber is cut off mid-stream (socket destroyed), messages
// keep coming while it is away and while it resubscribes, and it resumes on the OTHER instance
// with since-seq: it ends up with exactly the sent sequence. Also client-ack redelivery.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from '../support/api.js';
import { sleep, startServer, waitFor, type ServerProc } from '../support/cluster.js';
import { WsStomp, type Received } from '../support/stomp.js';

describe('reconnection recovery', () => {
  let a: ServerProc;
  let b: ServerProc;
  let api: Api;

  beforeAll(async () => {
    [a, b] = await Promise.all([startServer(), startServer()]);
    api = new Api(a.baseUrl);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  it('cut off mid-stream, resumed on the other instance with since-seq: exactly the sent sequence', async () => {
    const [sender, reader] = await api.pair('resume');
    const roomId = await api.group(sender, [reader]);
    const TOTAL = 400;
    const sent: string[] = []; // message ids in RECEIPT order = seq order (one sender, one connection)
    const senderConn = await WsStomp.connect(b.wsUrl, sender.token);
    const got: Received[] = [];
    let conn = await WsStomp.connect(a.wsUrl, reader.token);
    await conn.subscribe(`/topic/rooms.${roomId}`, (m) => got.push(m));

    let sending = true;
    const producer = (async () => {
      for (let i = 0; i < TOTAL; i++) {
        const r = await senderConn.send(`/topic/rooms.${roomId}`, `n${i}`);
        sent.push(r['message-id'] as string);
        if (i % 10 === 0) await sleep(5); // a steady stream, not one burst
      }
      sending = false;
    })();

    await waitFor(() => got.length >= 100, 30_000, 'first 100 live messages');
    // Cut off: the socket dies without DISCONNECT; the server does not know yet.
    conn.client.forceDisconnect();
    const lastSeen = got[got.length - 1]!.headers.seq!;
    const beforeCut = got.length;
    await waitFor(() => sent.length >= beforeCut + 100, 30_000, 'messages sent while away');
    expect(sending).toBe(true); // still sending while we resubscribe

    const resumed: Received[] = [];
    conn = await WsStomp.connect(b.wsUrl, reader.token);
    const receipt = await conn.subscribe(`/topic/rooms.${roomId}`, (m) => resumed.push(m), { 'since-seq': lastSeen });
    expect(Number(receipt['replayed-count'])).toBeGreaterThan(0);
    await producer;
    await waitFor(() => beforeCut + resumed.length >= TOTAL, 60_000, `all ${TOTAL} after resume`);
    await sleep(300); // a duplicate would arrive now

    const all = [...got.slice(0, beforeCut), ...resumed].map((m) => m.headers['message-id']);
    expect(all.length).toBe(TOTAL);
    expect(new Set(all).size).toBe(TOTAL);
    expect(all).toEqual(sent);
    const seqs = [...got.slice(0, beforeCut), ...resumed].map((m) => BigInt(m.headers.seq!));
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]! > seqs[i - 1]!).toBe(true);
    console.log(
      `[resume] ${beforeCut} live, cut off, ${receipt['replayed-count']} replayed up to seq ${receipt['replay-end-seq']}, ${resumed.length - Number(receipt['replayed-count'])} live after; 0 missing, 0 duplicated`,
    );
    await Promise.all([conn.close(), senderConn.close()]);
  });

  it('since-seq 0 replays the whole room, oldest first', async () => {
    const [sender, reader] = await api.pair('replay');
    const roomId = await api.group(sender, [reader]);
    const ids: string[] = [];
    for (let i = 0; i < 250; i++) ids.push((await api.send(sender, roomId, `r${i}`)).body.message.id);
    await waitFor(async () => (await api.allMessages(reader, roomId)).length === 250, 30_000, 'stored');
    const conn = await WsStomp.connect(b.wsUrl, reader.token);
    const got: Received[] = [];
    const receipt = await conn.subscribe(`/topic/rooms.${roomId}`, (m) => got.push(m), { 'since-seq': '0' });
    expect(receipt['replayed-count']).toBe('250');
    await waitFor(() => got.length === 250, 10_000, 'replay');
    expect(got.map((m) => m.headers['message-id'])).toEqual(ids);
    await conn.close();
  });

  it('client-ack: unacknowledged MESSAGEs are redelivered to the next session', async () => {
    const [sender, reader] = await api.pair('ack');
    const roomId = await api.group(sender, [reader]);
    const conn = await WsStomp.connect(a.wsUrl, reader.token);
    const got: Array<{ m: Received; ack: () => void }> = [];
    await conn.subscribe(`/topic/rooms.${roomId}`, (m, raw) => got.push({ m, ack: () => raw.ack() }), { ack: 'client' });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await api.send(sender, roomId, `a${i}`)).body.message.id);
    await waitFor(() => got.length === 10, 20_000, '10 delivered');
    expect(got[0]!.m.headers.ack).toBe(ids[0]);
    // Cumulative ACK of the 6th acknowledges 1..6; 7..10 stay unacknowledged.
    const acked = new Promise<void>((resolve) => conn.client.watchForReceipt('ack-6', () => resolve()));
    conn.client.ack(ids[5]!, got[5]!.m.headers.subscription!, { receipt: 'ack-6' });
    await acked;
    conn.client.forceDisconnect();

    const again = await WsStomp.connect(b.wsUrl, reader.token);
    const redelivered: Received[] = [];
    await again.subscribe(`/topic/rooms.${roomId}`, (m) => redelivered.push(m), { ack: 'client' });
    await waitFor(() => redelivered.length === 4, 10_000, 'redelivery of 4');
    expect(redelivered.map((m) => m.headers['message-id'])).toEqual(ids.slice(6));
    await again.close();
  });
});
