// Every REST endpoint of API.md against one real server process (real PostgreSQL, Redis, Kafka).
// Each test creates its own users and rooms; asynchronous effects (persist, notify, receipts consumers)
// are awaited with deadlines, never fixed sleeps.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectApiError, expectBadField } from '../support/api-errors.js';
import { Api, type Account } from '../support/api.js';
import { startServer, waitFor, type ServerProc } from '../support/cluster.js';
import { WsStomp } from '../support/stomp.js';

let server: ServerProc;
let api: Api;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  server = await startServer();
  api = new Api(server.baseUrl);
});

afterAll(async () => {
  for (const c of closers) await c().catch(() => {});
  await server?.stop();
});

const PASSWORD = 'correct horse battery';
const SEQ = /^[1-9]\d*$/;
const ID = /^[1-9]\d*$/;

const isIso = (s: unknown) => typeof s === 'string' && new Date(s).toISOString() === s;

async function group(owner: Account, members: Account[]): Promise<string> {
  return api.group(owner, members, `g-${randomUUID().slice(0, 8)}`);
}

async function sendOk(user: Account, roomId: string, content: string, idempotencyKey?: string) {
  const r = await api.send(user, roomId, content, idempotencyKey);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return r.body.message as { id: string; seq: string; content: string; unreadCount: number };
}

/** History (afterSeq paging) once it holds the message with id `id`: everything sent before it is stored too. */
async function storedThrough(user: Account, roomId: string, id: string): Promise<any[]> {
  return waitFor(
    async () => {
      const all = await api.allMessages(user, roomId);
      return all.some((m) => m.id === id) ? all : null;
    },
    20_000,
    `message ${id} stored`,
    50,
  );
}

function keysDeep(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) v.forEach((x) => keysDeep(x, out));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      keysDeep(x, out);
    }
  }
  return out;
}

describe('auth', () => {
  it('signup answers 201 {user, accessToken} without any password material', async () => {
    const email = `signup-${randomUUID()}@test.local`;
    const r = await api.call('POST', '/api/auth/signup', undefined, { email, password: PASSWORD, nickname: 'Signy' });
    expect(r.status).toBe(201);
    expect(Object.keys(r.body).sort()).toEqual(['accessToken', 'user']);
    const { user, accessToken } = r.body;
    expect(user.id).toMatch(ID);
    expect(user).toMatchObject({ email, nickname: 'Signy', status: 'OFFLINE', lastSeenAt: null });
    expect(accessToken).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const text = JSON.stringify(r.body);
    expect(keysDeep(r.body).filter((k) => /password|hash/i.test(k))).toEqual([]);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toMatch(/scrypt|\$argon|\$2[aby]\$/i);

    const me = await api.call('GET', '/api/users/me', accessToken);
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ id: user.id, email, nickname: 'Signy', status: 'OFFLINE', lastSeenAt: null, admin: false });
  });

  it('a taken email is 409 email-taken, also in another letter case', async () => {
    const email = `dup-${randomUUID()}@test.local`;
    expect((await api.call('POST', '/api/auth/signup', undefined, { email, password: PASSWORD, nickname: 'a' })).status).toBe(201);
    expectApiError(await api.call('POST', '/api/auth/signup', undefined, { email, password: PASSWORD, nickname: 'b' }), 409, 'email-taken');
    expectApiError(
      await api.call('POST', '/api/auth/signup', undefined, { email: email.toUpperCase(), password: PASSWORD, nickname: 'c' }),
      409,
      'email-taken',
    );
  });

  it('login: 200 {user, accessToken}; wrong password and unknown email are both 401 invalid-credentials', async () => {
    const acc = await api.signup('login');
    const ok = await api.call('POST', '/api/auth/login', undefined, { email: acc.email, password: PASSWORD });
    expect(ok.status).toBe(200);
    expect(Object.keys(ok.body).sort()).toEqual(['accessToken', 'user']);
    expect(ok.body.user).toMatchObject({ id: acc.id, email: acc.email, nickname: 'login' });
    expect(keysDeep(ok.body).filter((k) => /password|hash|deleted/i.test(k))).toEqual([]);
    const me = await api.call('GET', '/api/users/me', ok.body.accessToken);
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(acc.id);

    const caseless = await api.call('POST', '/api/auth/login', undefined, { email: acc.email.toUpperCase(), password: PASSWORD });
    expect(caseless.status).toBe(200);
    expect(caseless.body.user.id).toBe(acc.id);

    const wrong = expectApiError(
      await api.call('POST', '/api/auth/login', undefined, { email: acc.email, password: 'not the password' }),
      401,
      'invalid-credentials',
    );
    const unknown = expectApiError(
      await api.call('POST', '/api/auth/login', undefined, { email: `nobody-${randomUUID()}@test.local`, password: PASSWORD }),
      401,
      'invalid-credentials',
    );
    // The two failures are indistinguishable.
    expect(unknown.message).toBe(wrong.message);
  });

  it('GET /api/users/me without a token or with garbage is 401 unauthorized', async () => {
    expectApiError(await api.call('GET', '/api/users/me'), 401, 'unauthorized');
    expectApiError(await api.call('GET', '/api/users/me', 'garbage'), 401, 'unauthorized');
    expectApiError(await api.call('GET', '/api/users/me', 'a.b.c'), 401, 'unauthorized');
    const res = await fetch(`${server.baseUrl}/api/users/me`, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expectApiError({ status: res.status, body: await res.json() }, 401, 'unauthorized');
    // Every authenticated endpoint refuses the same way.
    for (const [method, path] of [
      ['GET', '/api/rooms'],
      ['POST', '/api/rooms'],
      ['GET', '/api/rooms/1'],
      ['POST', '/api/rooms/1/join'],
      ['POST', '/api/rooms/1/leave'],
      ['GET', '/api/rooms/1/messages'],
      ['POST', '/api/rooms/1/messages'],
      ['POST', '/api/rooms/1/read'],
      ['GET', '/api/notifications'],
    ] as const) {
      expectApiError(await api.call(method, path, undefined, method === 'POST' ? {} : undefined), 401, 'unauthorized');
    }
  });
});

describe('rooms', () => {
  it('DIRECT: 201 once, then the same room (200) whichever side asks', async () => {
    const [a, b] = await api.pair('direct');
    const first = await api.call('POST', '/api/rooms', a.token, { type: 'DIRECT', peerUserId: b.id });
    expect(first.status).toBe(201);
    expect(first.body.id).toMatch(ID);
    expect(first.body.type).toBe('DIRECT');
    const again = await api.call('POST', '/api/rooms', a.token, { type: 'DIRECT', peerUserId: b.id });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const other = await api.call('POST', '/api/rooms', b.token, { type: 'DIRECT', peerUserId: a.id });
    expect(other.status).toBe(200);
    expect(other.body.id).toBe(first.body.id);
    const detail = await api.call('GET', `/api/rooms/${first.body.id}`, b.token);
    expect(detail.status).toBe(200);
    expect(detail.body.members.map((m: { userId: string }) => m.userId).sort()).toEqual([a.id, b.id].sort());
  });

  it('DIRECT with yourself or with an unknown user is 400 naming peerUserId', async () => {
    const a = await api.signup('direct-bad');
    expectBadField(await api.call('POST', '/api/rooms', a.token, { type: 'DIRECT', peerUserId: a.id }), 'peerUserId');
    expectBadField(await api.call('POST', '/api/rooms', a.token, { type: 'DIRECT', peerUserId: '999999999999' }), 'peerUserId');
    const rooms = await api.call('GET', '/api/rooms', a.token);
    expect(rooms.body).toEqual({ rooms: [], nextCursor: null });
  });

  it('GROUP: 201 with memberIds; unknown memberIds is 400 naming memberIds and creates nothing', async () => {
    const [a, b, c] = await api.users(3, 'grp');
    const r = await api.call('POST', '/api/rooms', a!.token, { type: 'GROUP', name: 'Team', memberIds: [b!.id, c!.id] });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: 'Team', type: 'GROUP' });
    expect(r.body.id).toMatch(ID);
    const detail = await api.call('GET', `/api/rooms/${r.body.id}`, c!.token);
    expect(detail.status).toBe(200);
    expect(detail.body.members.map((m: { userId: string }) => m.userId).sort()).toEqual([a!.id, b!.id, c!.id].sort());

    const lonely = await api.signup('grp-bad');
    expectBadField(await api.call('POST', '/api/rooms', lonely.token, { type: 'GROUP', name: 'Ghosts', memberIds: [b!.id, '999999999999'] }), 'memberIds');
    expect((await api.call('GET', '/api/rooms', lonely.token)).body).toEqual({ rooms: [], nextCursor: null });
    // Without memberIds: a room of one.
    const solo = await api.call('POST', '/api/rooms', lonely.token, { type: 'GROUP', name: 'Solo' });
    expect(solo.status).toBe(201);
    expect((await api.call('GET', `/api/rooms/${solo.body.id}`, lonely.token)).body.members).toHaveLength(1);
  });

  it('GET /api/rooms lists the caller’s rooms as {id, name, type, members, unreadCount, lastMessage}', async () => {
    const [a, b, c] = await api.users(3, 'list');
    const g = await group(a!, [b!, c!]);
    const d = (await api.call('POST', '/api/rooms', a!.token, { type: 'DIRECT', peerUserId: b!.id })).body.id as string;

    const before = await api.call('GET', '/api/rooms', a!.token);
    expect(before.status).toBe(200);
    const byId = (rooms: any[]) => new Map(rooms.map((r) => [r.id, r]));
    const m0 = byId(before.body.rooms);
    expect(m0.size).toBe(2);
    expect(m0.get(g)).toMatchObject({ id: g, type: 'GROUP', members: 3, unreadCount: 0, lastMessage: null });
    expect(typeof m0.get(g).name).toBe('string');
    expect(m0.get(d)).toMatchObject({ id: d, type: 'DIRECT', members: 2, unreadCount: 0, lastMessage: null });

    const sent = await sendOk(b!, g, 'hello list');
    await storedThrough(a!, g, sent.id);
    const after = byId((await api.call('GET', '/api/rooms', a!.token)).body.rooms);
    expect(after.get(g).unreadCount).toBe(1);
    expect(after.get(g).lastMessage).toMatchObject({ id: sent.id, seq: sent.seq, roomId: g, senderId: b!.id, content: 'hello list', type: 'TEXT' });
    expect(after.get(d).unreadCount).toBe(0);
    // The sender has nothing unread in it.
    const forB = byId((await api.call('GET', '/api/rooms', b!.token)).body.rooms);
    expect(forB.get(g).unreadCount).toBe(0);
    // c sees the group only.
    const forC = (await api.call('GET', '/api/rooms', c!.token)).body.rooms;
    expect(forC.map((r: { id: string }) => r.id)).toEqual([g]);
  });

  it('GET /api/rooms/:id: members with {userId, nickname, status, lastSeenAt, lastReadSeq}; 403 non-member and unknown alike', async () => {
    const [a, b] = await api.pair('detail');
    const outsider = await api.signup('outsider');
    const g = await group(a, [b]);
    const r = await api.call('GET', `/api/rooms/${g}`, a.token);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: g, type: 'GROUP' });
    const members = [...r.body.members].sort((x: { userId: string }, y: { userId: string }) => Number(BigInt(x.userId) - BigInt(y.userId)));
    const expected = [a, b]
      .map((u) => ({ userId: u.id, nickname: 'detail', status: 'OFFLINE', lastSeenAt: null, lastReadSeq: '0' }))
      .sort((x, y) => Number(BigInt(x.userId) - BigInt(y.userId)));
    expect(members).toEqual(expected);

    const foreign = await api.call('GET', `/api/rooms/${g}`, outsider.token);
    expectApiError(foreign, 403, 'forbidden');
    // A room that does not exist answers exactly like a foreign one: no existence oracle.
    const missing = await api.call('GET', '/api/rooms/999999999999', a.token);
    expectApiError(missing, 403, 'forbidden');
    expect(missing.body).toEqual(foreign.body);
  });

  it('join: a public GROUP 200, twice harmless; a private one only with an invitation; DIRECT refused', async () => {
    const [a, b] = await api.pair('join');
    const joiner = await api.signup('joiner');
    const created = await api.call('POST', '/api/rooms', a.token, { type: 'GROUP', name: 'open', visibility: 'public' });
    expect(created.body.visibility).toBe('public');
    const g = created.body.id as string;
    expectApiError(await api.call('GET', `/api/rooms/${g}/messages`, joiner.token), 403, 'forbidden');
    const j1 = await api.call('POST', `/api/rooms/${g}/join`, joiner.token);
    expect(j1.status).toBe(200);
    const j2 = await api.call('POST', `/api/rooms/${g}/join`, joiner.token);
    expect(j2.status).toBe(200);
    const detail = await api.call('GET', `/api/rooms/${g}`, joiner.token);
    expect(detail.status).toBe(200);
    expect(detail.body.members.map((m: { userId: string }) => m.userId).sort()).toEqual([a.id, joiner.id].sort());
    expect((await api.call('GET', `/api/rooms/${g}/messages`, joiner.token)).status).toBe(200);

    const d = (await api.call('POST', '/api/rooms', a.token, { type: 'DIRECT', peerUserId: b.id })).body.id as string;
    const refused = await api.call('POST', `/api/rooms/${d}/join`, joiner.token);
    expect([400, 403], JSON.stringify(refused.body)).toContain(refused.status);
    expectApiError(refused, refused.status, refused.status === 403 ? 'forbidden' : 'invalid-request');
    expectApiError(await api.call('GET', `/api/rooms/${d}`, joiner.token), 403, 'forbidden');
    expectApiError(await api.call('POST', '/api/rooms/999999999999/join', joiner.token), 403, 'forbidden');

    // Private (the default): 403 until a member invites the joiner.
    const priv = await group(a, []);
    expectApiError(await api.call('POST', `/api/rooms/${priv}/join`, joiner.token), 403, 'forbidden');
    expectApiError(await api.call('POST', `/api/rooms/${priv}/invitations`, joiner.token, { userId: joiner.id }), 403, 'forbidden');
    expect((await api.call('POST', `/api/rooms/${priv}/invitations`, a.token, { userId: joiner.id })).status).toBe(201);
    expect((await api.call('POST', `/api/rooms/${priv}/join`, joiner.token)).status).toBe(200);
    expect((await api.call('GET', `/api/rooms/${priv}/messages`, joiner.token)).status).toBe(200);
  });

  it('leave: 200, then history, send and detail are 403 and the room is no longer listed', async () => {
    const [a, b] = await api.pair('leave');
    const g = await group(a, [b]);
    expect((await api.call('GET', `/api/rooms/${g}/messages`, b.token)).status).toBe(200);
    const left = await api.call('POST', `/api/rooms/${g}/leave`, b.token);
    expect(left.status).toBe(200);
    expectApiError(await api.call('GET', `/api/rooms/${g}/messages`, b.token), 403, 'forbidden');
    expectApiError(await api.send(b, g, 'after leaving'), 403, 'forbidden');
    expectApiError(await api.call('GET', `/api/rooms/${g}`, b.token), 403, 'forbidden');
    expect((await api.call('GET', '/api/rooms', b.token)).body).toEqual({ rooms: [], nextCursor: null });
    const detail = await api.call('GET', `/api/rooms/${g}`, a.token);
    expect(detail.body.members.map((m: { userId: string }) => m.userId)).toEqual([a.id]);
  });
});

describe('messages', () => {
  it('POST answers 202 {message} with every field of API.md', async () => {
    const [a, b, c] = await api.users(3, 'send');
    const g = await group(a!, [b!, c!]);
    const r = await api.call('POST', `/api/rooms/${g}/messages`, a!.token, { content: 'hello, 세계' });
    expect(r.status).toBe(202);
    expect(Object.keys(r.body)).toEqual(['message']);
    const m = r.body.message;
    expect(Object.keys(m).sort()).toEqual(['content', 'createdAt', 'id', 'roomId', 'senderId', 'seq', 'type', 'unreadCount']);
    expect(typeof m.id).toBe('string');
    expect(m.id.length).toBeGreaterThan(0);
    expect(m).toMatchObject({ roomId: g, senderId: a!.id, type: 'TEXT', content: 'hello, 세계', unreadCount: 2 });
    expect(m.seq).toMatch(SEQ);
    expect(BigInt(m.seq) >= 1n).toBe(true);
    expect(isIso(m.createdAt)).toBe(true);

    const img = await api.call('POST', `/api/rooms/${g}/messages`, b!.token, { content: 'https://example.test/cat.png', type: 'IMAGE' });
    expect(img.status).toBe(202);
    expect(img.body.message).toMatchObject({ type: 'IMAGE', senderId: b!.id, unreadCount: 2 });
    expect(BigInt(img.body.message.seq) > BigInt(m.seq)).toBe(true);

    const stored = await storedThrough(c!, g, img.body.message.id);
    expect(stored).toEqual([m, img.body.message]);
  });

  it('the same idempotencyKey sent twice, one after the other, is one message', async () => {
    const [a, b] = await api.pair('idem');
    const g = await group(a, [b]);
    const key = `k-${randomUUID()}`;
    const answers = [await api.send(a, g, 'once only', key), await api.send(a, g, 'once only', key)];
    expect(answers.map((r) => r.status)).toEqual([202, 202]);
    // The retry is answered from the earlier write, and says so; the first answer does not.
    expect(answers.map((r) => r.body.duplicate)).toEqual([undefined, true]);
    const [first, second] = answers.map((r) => r.body.message as { id: string; seq: string });
    expect(second!.id).toBe(first!.id);
    expect(second!.seq).toBe(first!.seq);
    // A later message is stored after anything sent before it: then history is final for the duplicate.
    const marker = await sendOk(a, g, 'marker');
    const stored = await storedThrough(a, g, marker.id);
    expect(stored.map((m) => m.content)).toEqual(['once only', 'marker']);
    expect(stored[0].id).toBe(first!.id);
    expect(stored[0].seq).toBe(first!.seq);
    // The same key from another sender is a different message.
    const other = await sendOk(b, g, 'same key, other sender', key);
    expect(other.id).not.toBe(first!.id);
  });

  it('the same idempotencyKey sent 5 times at once is one message', async () => {
    const [a, b] = await api.pair('idem5');
    const g = await group(a, [b]);
    const key = `k-${randomUUID()}`;
    const answers = await Promise.all(Array.from({ length: 5 }, () => api.send(a, g, 'concurrent once', key)));
    for (const r of answers) expect(r.status, JSON.stringify(r.body)).toBe(202);
    const ids = new Set(answers.map((r) => r.body.message.id));
    const seqs = new Set(answers.map((r) => r.body.message.seq));
    expect(ids.size).toBe(1);
    expect(seqs.size).toBe(1);
    // One of them wrote the message; the other four were answered from it.
    expect(answers.filter((r) => r.body.duplicate === true)).toHaveLength(4);
    const marker = await sendOk(a, g, 'marker');
    const stored = await storedThrough(a, g, marker.id);
    expect(stored.map((m) => [m.id, m.content])).toEqual([
      [answers[0]!.body.message.id, 'concurrent once'],
      [marker.id, 'marker'],
    ]);
  });

  describe('history paging', () => {
    let a: Account;
    let g: string;
    let all: Array<{ id: string; seq: string; content: string }>;

    beforeAll(async () => {
      a = await api.signup('paging');
      g = await group(a, []);
      all = [];
      for (let i = 0; i < 7; i++) all.push(await sendOk(a, g, `p${i}`));
      await storedThrough(a, g, all[6]!.id);
    });

    it('before: newest first with nextCursor until null, every message exactly once', async () => {
      const seen: string[] = [];
      const sizes: number[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10; page++) {
        const q: string = cursor === null ? '?limit=3' : `?limit=3&before=${cursor}`;
        const r = await api.call('GET', `/api/rooms/${g}/messages${q}`, a.token);
        expect(r.status).toBe(200);
        expect(r.body).toHaveProperty('nextCursor');
        sizes.push(r.body.messages.length);
        seen.push(...r.body.messages.map((m: { id: string }) => m.id));
        const seqs = r.body.messages.map((m: { seq: string }) => BigInt(m.seq));
        for (let i = 1; i < seqs.length; i++) expect(seqs[i] < seqs[i - 1]).toBe(true);
        cursor = r.body.nextCursor;
        if (cursor === null) break;
        expect(typeof cursor).toBe('string');
      }
      expect(cursor).toBeNull();
      expect(sizes).toEqual([3, 3, 1]);
      expect(seen).toEqual([...all].reverse().map((m) => m.id));
    });

    it('afterSeq: oldest first with hasMore; afterSeq=0 is from the start', async () => {
      const seen: string[] = [];
      const more: boolean[] = [];
      let after = '0';
      for (let page = 0; page < 10; page++) {
        const r = await api.call('GET', `/api/rooms/${g}/messages?afterSeq=${after}&limit=3`, a.token);
        expect(r.status).toBe(200);
        more.push(r.body.hasMore);
        seen.push(...r.body.messages.map((m: { id: string }) => m.id));
        if (!r.body.hasMore) break;
        after = r.body.messages[r.body.messages.length - 1].seq;
      }
      expect(more).toEqual([true, true, false]);
      expect(seen).toEqual(all.map((m) => m.id));
      // From the middle and from the end.
      const mid = await api.call('GET', `/api/rooms/${g}/messages?afterSeq=${all[4]!.seq}`, a.token);
      expect(mid.body.messages.map((m: { content: string }) => m.content)).toEqual(['p5', 'p6']);
      expect(mid.body.hasMore).toBe(false);
      const end = await api.call('GET', `/api/rooms/${g}/messages?afterSeq=${all[6]!.seq}`, a.token);
      expect(end.body).toEqual({ messages: [], hasMore: false });
    });

    it('limit defaults to 50 and is enforced to 1..100', async () => {
      const def = await api.call('GET', `/api/rooms/${g}/messages`, a.token);
      expect(def.status).toBe(200);
      expect(def.body.messages).toHaveLength(7);
      expect(def.body.nextCursor).toBeNull();
      const one = await api.call('GET', `/api/rooms/${g}/messages?limit=1`, a.token);
      expect(one.body.messages.map((m: { id: string }) => m.id)).toEqual([all[6]!.id]);
      expect(one.body.nextCursor).toBe(all[6]!.seq);
      expect((await api.call('GET', `/api/rooms/${g}/messages?limit=100`, a.token)).status).toBe(200);
      expectBadField(await api.call('GET', `/api/rooms/${g}/messages?limit=0`, a.token), 'limit');
      expectBadField(await api.call('GET', `/api/rooms/${g}/messages?limit=101`, a.token), 'limit');
      expectBadField(await api.call('GET', `/api/rooms/${g}/messages?limit=abc`, a.token), 'limit');
    });

    it('before and afterSeq together is 400', async () => {
      expectApiError(await api.call('GET', `/api/rooms/${g}/messages?before=5&afterSeq=1`, a.token), 400, 'invalid-request');
    });
  });
});

describe('read positions', () => {
  it('POST /read moves forward only, clamps to the newest message, and unread counts follow exactly', async () => {
    const [a, b, c] = await api.users(3, 'reads');
    const g = await group(a!, [b!, c!]);
    const m1 = await sendOk(a!, g, 'r1');
    const m2 = await sendOk(a!, g, 'r2');
    const m3 = await sendOk(a!, g, 'r3');
    expect([m1.unreadCount, m2.unreadCount, m3.unreadCount]).toEqual([2, 2, 2]);
    await storedThrough(a!, g, m3.id);

    const unreadInHistory = async () =>
      (await api.call('GET', `/api/rooms/${g}/messages?afterSeq=0`, a!.token)).body.messages.map((m: { unreadCount: number }) => m.unreadCount);
    const roomUnread = async (u: Account) => (await api.call('GET', '/api/rooms', u.token)).body.rooms.find((r: { id: string }) => r.id === g).unreadCount;

    expect(await unreadInHistory()).toEqual([2, 2, 2]);
    expect([await roomUnread(a!), await roomUnread(b!), await roomUnread(c!)]).toEqual([0, 3, 3]);

    const r1 = await api.call('POST', `/api/rooms/${g}/read`, b!.token, { seq: m2.seq });
    expect(r1.status).toBe(200);
    expect(r1.body).toEqual({ lastReadSeq: m2.seq, unreadCount: 1 });
    expect(await unreadInHistory()).toEqual([1, 1, 2]);
    expect([await roomUnread(a!), await roomUnread(b!), await roomUnread(c!)]).toEqual([0, 1, 3]);

    // Backwards: the higher position stays.
    const r2 = await api.call('POST', `/api/rooms/${g}/read`, b!.token, { seq: m1.seq });
    expect(r2.status).toBe(200);
    expect(r2.body).toEqual({ lastReadSeq: m2.seq, unreadCount: 1 });
    expect(await unreadInHistory()).toEqual([1, 1, 2]);

    // Past the newest message: clamped to the newest.
    const r3 = await api.call('POST', `/api/rooms/${g}/read`, b!.token, { seq: (BigInt(m3.seq) + 1000n).toString() });
    expect(r3.status).toBe(200);
    expect(r3.body).toEqual({ lastReadSeq: m3.seq, unreadCount: 0 });
    expect(await unreadInHistory()).toEqual([1, 1, 1]);
    expect([await roomUnread(a!), await roomUnread(b!), await roomUnread(c!)]).toEqual([0, 0, 3]);

    // c reads everything.
    const r4 = await api.call('POST', `/api/rooms/${g}/read`, c!.token, { seq: m3.seq });
    expect(r4.body).toEqual({ lastReadSeq: m3.seq, unreadCount: 0 });
    expect(await unreadInHistory()).toEqual([0, 0, 0]);
    expect([await roomUnread(a!), await roomUnread(b!), await roomUnread(c!)]).toEqual([0, 0, 0]);

    // A new message after the clamp is unread again: the clamp did not leave a position in the future.
    const m4 = await sendOk(a!, g, 'r4');
    expect(m4.unreadCount).toBe(2);
    await storedThrough(a!, g, m4.id);
    expect([await roomUnread(b!), await roomUnread(c!)]).toEqual([1, 1]);

    // The members' lastReadSeq in the room detail reaches the same positions (written by the receipts consumer).
    await waitFor(
      async () => {
        const members = (await api.call('GET', `/api/rooms/${g}`, a!.token)).body.members as Array<{ userId: string; lastReadSeq: string }>;
        const pos = Object.fromEntries(members.map((m) => [m.userId, m.lastReadSeq]));
        return pos[b!.id] === m3.seq && pos[c!.id] === m3.seq && pos[a!.id] === '0';
      },
      20_000,
      'room detail lastReadSeq',
      100,
    );
  });
});

describe('notifications', () => {
  it('a member without a live STOMP session gets a notification; a connected member does not', async () => {
    const [sender, online, offline] = await api.users(3, 'notif');
    const g = await group(sender!, [online!, offline!]);
    const ws = await WsStomp.connect(server.wsUrl, online!.token);
    closers.push(() => ws.close());
    // Presence is recorded asynchronously after CONNECTED: wait until the room shows the member ONLINE.
    await waitFor(
      async () => {
        const members = (await api.call('GET', `/api/rooms/${g}`, sender!.token)).body.members as Array<{ userId: string; status: string }>;
        return members.find((m) => m.userId === online!.id)?.status === 'ONLINE';
      },
      10_000,
      'online member shown ONLINE',
    );

    const m = await sendOk(sender!, g, 'ping for the offline one');
    const got = await waitFor(
      async () => {
        const r = await api.call('GET', '/api/notifications', offline!.token);
        return r.status === 200 && r.body.notifications.length > 0 ? r.body.notifications : null;
      },
      // The notify consumer group is shared by every running instance and asynchronous: a generous deadline.
      60_000,
      'notification for the offline member',
      100,
    );
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ roomId: g, messageId: m.id, seq: m.seq, senderId: sender!.id });
    // Written in the same batch as the offline member's row: the online member's answer is final now.
    expect((await api.call('GET', '/api/notifications', online!.token)).body).toEqual({ notifications: [] });
    expect((await api.call('GET', '/api/notifications', sender!.token)).body).toEqual({ notifications: [] });

    // ?limit bounds the list.
    const m2 = await sendOk(sender!, g, 'second ping');
    await waitFor(
      async () => (await api.call('GET', '/api/notifications', offline!.token)).body.notifications.length === 2,
      60_000,
      'second notification',
      100,
    );
    const limited = await api.call('GET', '/api/notifications?limit=1', offline!.token);
    expect(limited.status).toBe(200);
    expect(limited.body.notifications).toHaveLength(1);
    expect(limited.body.notifications[0].messageId).toBe(m2.id);
    expectBadField(await api.call('GET', '/api/notifications?limit=0', offline!.token), 'limit');
  }, 150_000);
});

describe('health and metrics', () => {
  it('/healthz 200, /readyz 200 with postgres, redis and kafka ok', async () => {
    const h = await api.call('GET', '/healthz');
    expect(h.status).toBe(200);
    const r = await api.call('GET', '/readyz');
    expect(r.status).toBe(200);
    expect(r.body.checks).toMatchObject({ postgres: 'ok', redis: 'ok', kafka: 'ok' });
  });

  it('/metrics is Prometheus text with the message counter and process metrics', async () => {
    const res = await fetch(`${server.baseUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE chat_messages_sent_total counter$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total(\{[^}]*\})? [\d.e+-]+$/m);
  });

  it('an unknown route is 404 with the error body', async () => {
    expectApiError(await api.call('GET', '/api/nothing-here'), 404, 'not-found');
  });
});
