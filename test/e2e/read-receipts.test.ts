// Claim 3: read receipts under concurrency. 50 members of one group room mark read at once — half
// over REST, half over STOMP, spread over two instances; half up to an earlier message, half to the
// last — and every per-message and per-member count is exactly right, also across a Redis restart.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, type Account } from '../support/api.js';
import { startServer, waitFor, type ServerProc } from '../support/cluster.js';
import { restartRedis } from '../support/infra.js';
import { WsStomp } from '../support/stomp.js';
import { readSetting } from '../../src/config.js';

const MEMBERS = 50;
const MESSAGES = 20;
const EARLY = 10; // half the members read up to the 10th message

describe('read receipts: 50 concurrent readers on two instances', () => {
  let a: ServerProc;
  let b: ServerProc;
  let api: Api;
  let db: pg.Pool;

  beforeAll(async () => {
    [a, b] = await Promise.all([startServer(), startServer()]);
    api = new Api(a.baseUrl);
    db = new pg.Pool({ connectionString: readSetting('DATABASE_URL'), max: 2 });
  });

  afterAll(async () => {
    await db?.end();
    await Promise.all([a?.stop(), b?.stop()]);
  });

  /** Sets up a room with an owner who sent MESSAGES messages, and 50 readers; returns the seqs. */
  async function room(): Promise<{ owner: Account; readers: Account[]; roomId: string; seqs: string[] }> {
    const owner = (await api.users(1, 'owner'))[0]!;
    const readers = await api.users(MEMBERS, 'reader');
    const roomId = await api.group(owner, readers);
    const seqs: string[] = [];
    for (let i = 0; i < MESSAGES; i++) seqs.push((await api.send(owner, roomId, `m${i}`)).body.message.seq);
    await waitFor(async () => (await api.allMessages(owner, roomId)).length === MESSAGES, 30_000, 'messages stored');
    return { owner, readers, roomId, seqs };
  }

  /** Half REST, half STOMP; alternate instances; even readers to the early seq, odd to the last. */
  async function markAll(readers: Account[], roomId: string, target: (i: number) => string, expected: (i: number) => string = target): Promise<void> {
    const stomp = await Promise.all(readers.map((r, i) => (i % 2 === 1 ? WsStomp.connect((i % 4 === 1 ? a : b).wsUrl, r.token) : Promise.resolve(null))));
    try {
      await Promise.all(
        readers.map(async (r, i) => {
          const seq = target(i);
          const c = stomp[i];
          if (c) {
            await c.send(`/app/rooms.${roomId}.read`, JSON.stringify({ seq }), { 'content-type': 'application/json' });
          } else {
            const res = await new Api((i % 4 === 0 ? a : b).baseUrl).call('POST', `/api/rooms/${roomId}/read`, r.token, { seq });
            expect(res.status).toBe(200);
            expect(res.body.lastReadSeq).toBe(expected(i));
          }
        }),
      );
    } finally {
      await Promise.all(stomp.map((c) => c?.close()));
    }
  }

  async function expectCounts(owner: Account, readers: Account[], roomId: string, seqs: string[], positionOf: (i: number) => number) {
    // Per message: readers whose position is below it (the owner sent them all).
    const history = await api.allMessages(owner, roomId);
    expect(history.map((m) => m.seq)).toEqual(seqs);
    const expectedPerMessage = seqs.map((_, k) => readers.filter((_, i) => positionOf(i) < k + 1).length);
    expect(history.map((m) => m.unreadCount)).toEqual(expectedPerMessage);
    // Per member: messages after their position.
    const rooms = await Promise.all(readers.map((r, i) => new Api((i % 2 ? b : a).baseUrl).call('GET', '/api/rooms', r.token)));
    const actual = rooms.map((res) => res.body.rooms.find((x: { id: string }) => x.id === roomId).unreadCount);
    expect(actual).toEqual(readers.map((_, i) => MESSAGES - positionOf(i)));
    // Room detail shows each member's lastReadSeq.
    const detail = await api.call('GET', `/api/rooms/${roomId}`, owner.token);
    const bySeq = new Map(detail.body.members.map((m: { userId: string; lastReadSeq: string }) => [m.userId, m.lastReadSeq]));
    readers.forEach((r, i) => expect(bySeq.get(r.id), `reader ${i}`).toBe(positionOf(i) === 0 ? '0' : seqs[positionOf(i) - 1]));
  }

  async function expectSyncedToPostgres(readers: Account[], roomId: string, seqs: string[], positionOf: (i: number) => number) {
    const want = readers.map((r, i) => `${r.id}:${positionOf(i) === 0 ? '0' : seqs[positionOf(i) - 1]}:${MESSAGES - positionOf(i)}`).sort();
    await waitFor(
      async () => {
        const { rows } = await db.query<{ k: string }>(
          `SELECT user_id || ':' || last_read_seq || ':' || unread_count AS k FROM chat_room_members WHERE room_id = $1 AND user_id = ANY($2::bigint[])`,
          [roomId, readers.map((r) => r.id)],
        );
        return JSON.stringify(rows.map((r) => r.k).sort()) === JSON.stringify(want);
      },
      30_000,
      'positions and unread counts synced to chat_room_members',
      200,
    );
  }

  it('every per-message and per-member count is exact', async () => {
    const { owner, readers, roomId, seqs } = await room();
    const positionOf = (i: number) => (i % 2 === 0 ? EARLY : MESSAGES);
    await markAll(readers, roomId, (i) => seqs[positionOf(i) - 1]!);
    await expectCounts(owner, readers, roomId, seqs, positionOf);
    await expectSyncedToPostgres(readers, roomId, seqs, positionOf);

    // Read positions never move backwards: everyone "reads" the first message again.
    await markAll(
      readers,
      roomId,
      () => seqs[0]!,
      (i) => seqs[positionOf(i) - 1]!,
    );
    await expectCounts(owner, readers, roomId, seqs, positionOf);
  });

  it('counts stay exact across a Redis restart (positions rebuilt from PostgreSQL)', async () => {
    const { owner, readers, roomId, seqs } = await room();
    const first = (i: number) => (i % 2 === 0 ? EARLY : MESSAGES);
    await markAll(readers, roomId, (i) => seqs[first(i) - 1]!);
    await expectSyncedToPostgres(readers, roomId, seqs, first);

    const { downMs } = await restartRedis();
    console.log(`[reads] redis restarted in ${downMs} ms`);
    await waitFor(async () => (await api.call('GET', '/readyz')).status === 200, 30_000, 'instance ready after redis restart');
    await waitFor(async () => (await new Api(b.baseUrl).call('GET', '/readyz')).status === 200, 30_000, 'b ready');
    await expectCounts(owner, readers, roomId, seqs, first);

    // Second round after the restart: the early half catches up to message 15, concurrently.
    const second = (i: number) => (i % 2 === 0 ? 15 : MESSAGES);
    await markAll(readers, roomId, (i) => seqs[second(i) - 1]!);
    await expectCounts(owner, readers, roomId, seqs, second);
    await expectSyncedToPostgres(readers, roomId, seqs, second);
  });
});
