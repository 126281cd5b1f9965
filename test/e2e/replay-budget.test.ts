// The replay budget (REPLAY_MESSAGES_PER_MIN, issue 17): the flood of the review — one user asking for a room's whole
// history with SUBSCRIBE since-seq:0 again and again — against two real instances sharing the budget in Redis. What
// the abuser gets is bounded by one budget (plus its refill while the test runs), beyond it since-seq SUBSCRIBEs get
// ERROR rate-limited and REST history pages 429; a bystander in the same room resumes in full, and the abuser's live
// subscription still receives new messages (the live path is never charged).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, type Account } from '../support/api.js';
import { startServer, waitFor, type ServerProc } from '../support/cluster.js';
import { RawConn, type ServerFrame } from '../support/raw.js';

const BUDGET = 1500; // messages per minute per user: 5 replays of the room below, refilled at 25/s
const ROOM_SIZE = 300;
const ABUSE_MS = 12_000;
const ROOM = (id: string) => `/topic/rooms.${id}`;

let s1: ServerProc;
let s2: ServerProc;
let api: Api;
let owner: Account;
let abuser: Account;
let bystander: Account;
let roomId: string;
const opened: RawConn[] = [];

async function connected(srv: ServerProc, user: Account): Promise<RawConn> {
  const c = await RawConn.open('tcp', srv, { binary: true });
  opened.push(c);
  await c.connect(user.token);
  return c;
}

/** The room's newest stored message, from the room list (which is not a history read: not charged). */
async function lastStoredSeq(user: Account, room: string): Promise<string | null> {
  const r = await api.call('GET', '/api/rooms?limit=500', user.token);
  return r.body?.rooms?.find((x: { id: string }) => x.id === room)?.lastMessage?.seq ?? null;
}

beforeAll(async () => {
  const env = { REPLAY_MESSAGES_PER_MIN: String(BUDGET) };
  [s1, s2] = await Promise.all([startServer({ env }), startServer({ env })]);
  api = new Api(s1.baseUrl);
  [owner, abuser, bystander] = (await api.users(3, 'replay')) as [Account, Account, Account];
  roomId = await api.group(owner, [abuser, bystander], `replay-${randomUUID().slice(0, 8)}`);
  let last = '';
  for (let i = 0; i < ROOM_SIZE; i += 10) {
    const batch = await Promise.all(Array.from({ length: 10 }, (_, k) => api.send(owner, roomId, `history ${i + k} ${'h'.repeat(300)}`)));
    for (const r of batch) {
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      if (BigInt(r.body.message.seq) > BigInt(last || '0')) last = r.body.message.seq;
    }
  }
  await waitFor(async () => (await lastStoredSeq(owner, roomId)) === last, 120_000, `room stored up to seq ${last}`, 250);
}, 300_000);

afterAll(async () => {
  for (const c of opened) c.destroy();
  await Promise.allSettled([s1?.stop(), s2?.stop()]);
});

describe(`replay budget (REPLAY_MESSAGES_PER_MIN=${BUDGET}, two instances)`, () => {
  it('since-seq:0 over and over, alternating instances: bounded by one budget, then ERROR rate-limited; REST pages 429; a bystander resumes in full; live delivery goes on', async () => {
    const t0 = Date.now();
    let replayed = 0;
    let replays = 0;
    const refusals: ServerFrame[] = [];
    const conns = new Map<ServerProc, RawConn>();
    // The review's flood: one SUBSCRIBE since-seq:0 after the other (each waits for its answer), 100 times at most,
    // for ABUSE_MS at most; a refused one costs the connection (ERROR), so the abuser reconnects and goes on.
    for (let i = 0; i < 100 && Date.now() - t0 < ABUSE_MS; i++) {
      const srv = i % 2 === 0 ? s1 : s2;
      let c = conns.get(srv);
      if (!c || c.isClosed) conns.set(srv, (c = await connected(srv, abuser)));
      const from = c.frames.length;
      c.send('SUBSCRIBE', { id: `flood-${i}`, destination: ROOM(roomId), 'since-seq': '0', receipt: `r${i}` });
      const answer = await c.next(
        (f) => f.command === 'ERROR' || (f.command === 'RECEIPT' && f.headers['receipt-id'] === `r${i}`),
        60_000,
        `answer to SUBSCRIBE ${i}`,
        from,
      );
      replayed += c.frames.slice(from).filter((f) => f.command === 'MESSAGE' && f.headers.subscription === `flood-${i}`).length;
      if (answer.command === 'ERROR') {
        refusals.push(answer);
        await c.waitClosed(10_000);
      } else {
        replays++;
        expect(answer.headers['replayed-count']).toBe(String(ROOM_SIZE));
        c.send('UNSUBSCRIBE', { id: `flood-${i}` });
      }
    }
    const elapsedS = (Date.now() - t0) / 1000;
    // One budget, its refill over the run, and the one replay that may start with a single token left.
    const bound = BUDGET + (BUDGET / 60) * elapsedS + ROOM_SIZE;
    console.log(
      `[replay flood] ${replays} replays (${replayed} MESSAGEs) and ${refusals.length} refusals in ${elapsedS.toFixed(1)} s; bound ${Math.round(bound)} (before the budget: ${ROOM_SIZE} per SUBSCRIBE, 100 × ${ROOM_SIZE} = ${100 * ROOM_SIZE})`,
    );
    expect(replayed, 'the budget itself was given').toBeGreaterThanOrEqual(BUDGET);
    expect(replayed).toBeLessThanOrEqual(bound);
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    for (const e of refusals) {
      expect(e.headers.message).toBe('rate-limited');
      expect(e.headers['receipt-id']).toMatch(/^r\d+$/);
      expect(e.text).toMatch(/REPLAY_MESSAGES_PER_MIN/);
    }

    // REST history pages draw from the same budget: 429 within a page or two (a refill may let one more through).
    const statuses: number[] = [];
    for (let k = 0; k < 4 && !statuses.includes(429); k++) {
      statuses.push((await new Api(s2.baseUrl).call('GET', `/api/rooms/${roomId}/messages?afterSeq=0&limit=100`, abuser.token)).status);
    }
    expect(statuses, `REST afterSeq pages: ${statuses.join(',')}`).toContain(429);
    const limited = await fetch(`${s1.baseUrl}/api/rooms/${roomId}/messages?afterSeq=0&limit=100`, { headers: { authorization: `Bearer ${abuser.token}` } });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await limited.json()).error.code).toBe('rate-limited');

    // A bystander of the same room is not affected: a full since-seq replay (not paced) and full REST pages.
    const b = await connected(s1, bystander);
    const tb = Date.now();
    const r = await b.subscribe(ROOM(roomId), 'resume', { 'since-seq': '0' });
    expect(r.headers['replayed-count']).toBe(String(ROOM_SIZE));
    expect(b.messages((f) => f.headers.subscription === 'resume')).toHaveLength(ROOM_SIZE);
    const bystanderReplayMs = Date.now() - tb;
    const all = await new Api(s2.baseUrl).allMessages(bystander, roomId);
    expect(all).toHaveLength(ROOM_SIZE);
    console.log(`[replay flood] bystander: since-seq:0 replay of ${ROOM_SIZE} in ${bystanderReplayMs} ms, then ${ROOM_SIZE} over REST`);

    // The abuser's live subscription (no since-seq) still gets what is sent now: the live path is not charged.
    const live = await connected(s2, abuser);
    await live.subscribe(ROOM(roomId), 'live');
    const sent = await b.sendWithReceipt(ROOM(roomId), 'after the flood');
    const got = await live.next((f) => f.command === 'MESSAGE' && f.headers.subscription === 'live', 30_000, 'live message');
    expect(got.headers['message-id']).toBe(sent.headers['message-id']);
  }, 180_000);
});
