// Hostile input against one real server process: every bad body, query, path id or token gets a 4xx with the
// error body (a 400 naming the field for bad input, 401 for bad tokens — also refused on STOMP CONNECT), nothing
// bad is stored, SQL-looking text is just text, and the server is still alive at the end.
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectApiError, expectBadField } from '../support/api-errors.js';
import { Api, type Account, type Answer } from '../support/api.js';
import { startServer, waitFor, type ServerProc } from '../support/cluster.js';
import { RawConn } from '../support/raw.js';
import { readSetting } from '../../src/config.js';

// The test server runs with NODE_ENV=test and no JWT_SECRET: it signs with the dev default of src/config.ts.
const DEV_SECRET = 'dev-only-secret-do-not-use-in-production';
const DATABASE_URL = readSetting('DATABASE_URL');

let server: ServerProc;
let api: Api;
let db: pg.Client;

beforeAll(async () => {
  server = await startServer();
  api = new Api(server.baseUrl);
  db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  await server?.stop();
});

async function raw(method: string, path: string, token: string | undefined, body: string | Buffer, contentType = 'application/json'): Promise<Answer> {
  const res = await fetch(server.baseUrl + path, {
    method,
    headers: { 'content-type': contentType, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body as BodyInit,
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // leave as text: the assertions then show it
  }
  return { status: res.status, body: parsed };
}

/**
 * Sends a marker and waits until it is stored: every message acknowledged before it is stored by then.
 * Returns the room's stored contents without the marker.
 */
async function storedContents(user: Account, roomId: string): Promise<string[]> {
  const marker = `marker-${randomUUID()}`;
  const r = await api.send(user, roomId, marker);
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  const all = await waitFor(
    async () => {
      const list = await api.allMessages(user, roomId);
      return list.some((m) => m.id === r.body.message.id) ? list : null;
    },
    20_000,
    'marker stored',
    50,
  );
  return all.filter((m) => m.content !== marker).map((m) => m.content as string);
}

async function freshRoom(prefix: string): Promise<{ a: Account; b: Account; room: string }> {
  const [a, b] = await api.pair(prefix);
  const room = await api.group(a, [b], `h-${randomUUID().slice(0, 8)}`);
  return { a, b, room };
}

describe('bad bodies', () => {
  it('a body over 64 KiB is 400 and nothing is stored', async () => {
    const { a, room } = await freshRoom('big');
    const big = await api.call('POST', `/api/rooms/${room}/messages`, a.token, { content: 'x'.repeat(70 * 1024) });
    expectApiError(big, 400, 'invalid-request');
    const bigSignup = await api.call('POST', '/api/auth/signup', undefined, {
      email: `big-${randomUUID()}@test.local`,
      password: 'p'.repeat(100 * 1024),
      nickname: 'big',
    });
    expectApiError(bigSignup, 400, 'invalid-request');
    expect(await storedContents(a, room)).toEqual([]);
  });

  it('content over 4 KiB of UTF-8 is 400 naming content; exactly 4 KiB is accepted', async () => {
    const { a, room } = await freshRoom('utf8');
    const korean = '가'.repeat(1400); // 4,200 bytes
    expectBadField(await api.send(a, room, korean), 'content');
    const over = `${'가'.repeat(1365)}ab`; // 4,097 bytes
    expectBadField(await api.send(a, room, over), 'content');
    const exact = `${'가'.repeat(1365)}a`; // 4,096 bytes
    expect(Buffer.byteLength(exact)).toBe(4096);
    const ok = await api.send(a, room, exact);
    expect(ok.status, JSON.stringify(ok.body)).toBe(202);
    expect(await storedContents(a, room)).toEqual([exact]);
  });

  it('wrong types and unknown fields are 400 naming the field', async () => {
    const { a, b, room } = await freshRoom('types');
    expectBadField(await api.call('POST', `/api/rooms/${room}/messages`, a.token, { content: 5 }), 'content');
    expectBadField(await api.call('POST', `/api/rooms/${room}/messages`, a.token, { content: ['x'] }), 'content');
    expectBadField(await api.call('POST', `/api/rooms/${room}/messages`, a.token, {}), 'content');
    expectBadField(await api.call('POST', `/api/rooms/${room}/messages`, a.token, { content: '' }), 'content');
    expectBadField(await api.call('POST', `/api/rooms/${room}/messages`, a.token, { content: 'hi', admin: true }), 'admin');
    expectBadField(await api.call('POST', `/api/rooms/${room}/messages`, a.token, { content: 'hi', type: 'SYSTEM' }), 'type');
    expectBadField(await api.call('POST', `/api/rooms/${room}/messages`, a.token, { content: 'hi', type: 'VIDEO' }), 'type');
    expectBadField(await api.call('POST', `/api/rooms/${room}/messages`, a.token, { content: 'hi', idempotencyKey: 'k'.repeat(129) }), 'idempotencyKey');
    expectBadField(await api.call('POST', `/api/rooms/${room}/messages`, a.token, { content: 'hi', idempotencyKey: 7 }), 'idempotencyKey');
    // A lone UTF-16 surrogate cannot be stored as UTF-8 text.
    expectBadField(await raw('POST', `/api/rooms/${room}/messages`, a.token, '{"content":"a\\ud800b"}'), 'content');

    expectBadField(await api.call('POST', `/api/rooms/${room}/read`, a.token, { seq: true }), 'seq');
    expectBadField(await api.call('POST', `/api/rooms/${room}/read`, a.token, { seq: '-1' }), 'seq');
    expectBadField(await api.call('POST', `/api/rooms/${room}/read`, a.token, { seq: '1.5' }), 'seq');
    expectBadField(await api.call('POST', `/api/rooms/${room}/read`, a.token, {}), 'seq');
    expectBadField(await api.call('POST', `/api/rooms/${room}/read`, a.token, { seq: '1', extra: 1 }), 'extra');

    expectBadField(await api.call('POST', '/api/rooms', a.token, { type: 'GROUP', name: 'x', memberIds: 'x' }), 'memberIds');
    expectBadField(await api.call('POST', '/api/rooms', a.token, { type: 'GROUP', name: 'x', memberIds: ['abc'] }), 'memberIds');
    expectBadField(await api.call('POST', '/api/rooms', a.token, { type: 'GROUP', name: 'x', admin: true }), 'admin');
    expectBadField(await api.call('POST', '/api/rooms', a.token, { type: 'GROUP', name: 5 }), 'name');
    expectBadField(await api.call('POST', '/api/rooms', a.token, { type: 'DIRECT', peerUserId: 5 }), 'peerUserId');
    expectBadField(await api.call('POST', '/api/rooms', a.token, { type: 'PUBLIC', name: 'x' }), 'type');

    expectBadField(await api.call('POST', '/api/auth/signup', undefined, { email: 'not-an-email', password: 'long enough pw', nickname: 'n' }), 'email');
    expectBadField(
      await api.call('POST', '/api/auth/signup', undefined, { email: `s-${randomUUID()}@test.local`, password: 'short', nickname: 'n' }),
      'password',
    );
    expectBadField(
      await api.call('POST', '/api/auth/signup', undefined, { email: `s-${randomUUID()}@test.local`, password: 'long enough pw', nickname: 7 }),
      'nickname',
    );
    expectBadField(await api.call('POST', '/api/auth/login', undefined, { email: 5, password: 'x' }), 'email');

    expect(await storedContents(a, room)).toEqual([]);
    expect((await api.call('GET', '/api/rooms', b.token)).body.rooms.map((r: { id: string }) => r.id)).toEqual([room]);
  });

  it('malformed JSON, a JSON array, invalid UTF-8 and a non-JSON content type are 400; nothing stored', async () => {
    const { a, room } = await freshRoom('json');
    const path = `/api/rooms/${room}/messages`;
    expectApiError(await raw('POST', path, a.token, '{"content": '), 400, 'invalid-request');
    expectApiError(await raw('POST', path, a.token, '{content: "x"}'), 400, 'invalid-request');
    expectApiError(await raw('POST', path, a.token, '["content"]'), 400, 'invalid-request');
    const badUtf8 = Buffer.concat([Buffer.from('{"content":"'), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('"}')]);
    expectApiError(await raw('POST', path, a.token, badUtf8), 400, 'invalid-request');
    const overlong = Buffer.concat([Buffer.from('{"content":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]);
    expectApiError(await raw('POST', path, a.token, overlong), 400, 'invalid-request');
    const textPlain = await raw('POST', path, a.token, 'just text', 'text/plain');
    expectApiError(textPlain, 400, 'invalid-request');
    expect(await storedContents(a, room)).toEqual([]);
  });
});

describe('SQL-looking input', () => {
  it('is stored verbatim as content, and the tables still exist', async () => {
    const { a, b, room } = await freshRoom('sql');
    const evil = ["'; DROP TABLE messages; --", 'Robert"); DELETE FROM users WHERE ("1"="1', "1' OR '1'='1", '$1 \\x00 %s %n'];
    for (const content of evil) {
      const r = await api.send(a, room, content);
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      expect(r.body.message.content).toBe(content);
    }
    expect(await storedContents(b, room)).toEqual(evil);
    const tables = await db.query<{ t: string | null }>(
      "SELECT to_regclass(t)::text AS t FROM unnest(ARRAY['messages','users','chat_rooms','chat_room_members','notifications']) AS t",
    );
    expect(tables.rows.map((r) => r.t)).toEqual(['messages', 'users', 'chat_rooms', 'chat_room_members', 'notifications']);
    // The nickname too.
    const email = `sql-${randomUUID()}@test.local`;
    const s = await api.call('POST', '/api/auth/signup', undefined, { email, password: 'long enough pw', nickname: "x'); DROP TABLE users; --" });
    expect(s.status).toBe(201);
    expect(s.body.user.nickname).toBe("x'); DROP TABLE users; --");
  });

  it('as path ids and query values: 400', async () => {
    const { a } = await freshRoom('sqlid');
    expectBadField(await api.call('GET', '/api/rooms/1%20OR%201=1/messages', a.token), 'id');
    expectBadField(await api.call('POST', '/api/rooms/1%20OR%201=1/messages', a.token, { content: 'x' }), 'id');
    expectBadField(await api.call('GET', "/api/rooms/1';DROP%20TABLE%20messages;--", a.token), 'id');
    expectBadField(await api.call('GET', '/api/rooms/1/messages?afterSeq=1%20OR%201=1', a.token), 'afterSeq');
    expectBadField(await api.call('GET', '/api/rooms/1/messages?before=0;DELETE', a.token), 'before');
  });
});

describe('path ids that are not decimal', () => {
  it.each(['abc', '-1', '1.5', '0x10', '1e3', '%20', '12345678901234567890', '１２'])('/api/rooms/%s is 400 naming id', async (id) => {
    const [a] = await api.users(1, 'pathid');
    for (const [method, suffix] of [
      ['GET', ''],
      ['GET', '/messages'],
      ['POST', '/messages'],
      ['POST', '/read'],
      ['POST', '/join'],
      ['POST', '/leave'],
    ] as const) {
      const body = suffix === '/messages' && method === 'POST' ? { content: 'x' } : suffix === '/read' ? { seq: '1' } : undefined;
      expectBadField(await api.call(method, `/api/rooms/${id}${suffix}`, a!.token, body), 'id');
    }
  });

  it('a decimal id or seq beyond the 64-bit range is refused with 400 or 404 (or answered), never a 500', async () => {
    const { a, room } = await freshRoom('bigid');
    const huge = '9999999999999999999'; // 19 digits, > 2^63-1
    const cases: Array<[string, string, unknown, number[]]> = [
      ['GET', `/api/rooms/${huge}`, undefined, [400, 404]],
      ['GET', `/api/rooms/${huge}/messages`, undefined, [400, 404]],
      ['POST', `/api/rooms/${huge}/messages`, { content: 'x' }, [400, 404]],
      ['POST', `/api/rooms/${huge}/join`, undefined, [400, 404]],
      ['POST', `/api/rooms/${huge}/leave`, undefined, [400, 404]],
      ['POST', `/api/rooms/${huge}/read`, { seq: '1' }, [400, 404]],
      ['POST', '/api/rooms', { type: 'DIRECT', peerUserId: huge }, [400]],
      ['POST', '/api/rooms', { type: 'GROUP', name: 'x', memberIds: [huge] }, [400]],
      ['GET', `/api/rooms/${room}/messages?afterSeq=${huge}`, undefined, [200, 400]],
      ['GET', `/api/rooms/${room}/messages?before=${huge}`, undefined, [200, 400]],
      ['POST', `/api/rooms/${room}/read`, { seq: huge }, [200, 400]],
    ];
    const wrong: string[] = [];
    for (const [method, path, body, allowed] of cases) {
      const r = await api.call(method, path, a.token, body);
      if (!allowed.includes(r.status)) wrong.push(`${method} ${path} ${JSON.stringify(body) ?? ''} -> ${r.status} ${JSON.stringify(r.body)}`);
    }
    expect(wrong).toEqual([]);
    expect(await storedContents(a, room)).toEqual([]);
  });
});

describe('NUL characters (PostgreSQL text cannot hold U+0000)', () => {
  it('in content: refused with 400 naming content, or stored verbatim — never acknowledged and then lost', async () => {
    const { a, room } = await freshRoom('nul');
    const content = 'before\u0000after';
    const r = await api.send(a, room, content);
    if (r.status === 202) {
      expect(await storedContents(a, room)).toEqual([content]);
    } else {
      expectBadField(r, 'content');
      expect(await storedContents(a, room)).toEqual([]);
    }
  });

  it('in other text fields: 400 naming the field (or accepted), never a 500', async () => {
    const { a, room } = await freshRoom('nul2');
    const cases: Array<[string, string, string | undefined, unknown, string]> = [
      ['POST', '/api/auth/signup', undefined, { email: `nul-${randomUUID()}@test.local`, password: 'long enough pw', nickname: 'a\u0000b' }, 'nickname'],
      ['POST', '/api/auth/signup', undefined, { email: `nul-${randomUUID()}@test.local`, password: 'long\u0000enough pw', nickname: 'n' }, 'password'],
      ['POST', '/api/auth/login', undefined, { email: 'x\u0000@test.local', password: 'long enough pw' }, 'email'],
      ['POST', '/api/rooms', a.token, { type: 'GROUP', name: 'a\u0000b' }, 'name'],
      ['POST', `/api/rooms/${room}/messages`, a.token, { content: 'x', idempotencyKey: 'a\u0000b' }, 'idempotencyKey'],
    ];
    const wrong: string[] = [];
    for (const [method, path, token, body, field] of cases) {
      const r = await api.call(method, path, token, body);
      const ok = r.status < 300 || (r.status === 400 && (r.body?.error?.field === field || String(r.body?.error?.message).includes(field)));
      // login with an unknown (NUL-bearing) email may also answer 401 invalid-credentials.
      const fine = ok || (path === '/api/auth/login' && r.status === 401);
      if (!fine) wrong.push(`${method} ${path} ${JSON.stringify(body)} -> ${r.status} ${JSON.stringify(r.body)}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('tokens', () => {
  const b64url = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

  async function expectStompRefused(token: string): Promise<void> {
    const c = await RawConn.tcp(server.tcpPort);
    c.send('CONNECT', { 'accept-version': '1.2', host: 'x', passcode: token });
    await c.waitClosed(10_000);
    expect(
      c.frames.map((f) => f.command),
      c.describe(),
    ).toEqual(['ERROR']);
    expect(c.frames[0]!.headers.message).toBe('unauthorized');
  }

  async function expectRefusedEverywhere(token: string): Promise<void> {
    expectApiError(await api.call('GET', '/api/users/me', token), 401, 'unauthorized');
    expectApiError(await api.call('GET', '/api/rooms', token), 401, 'unauthorized');
    expectApiError(await api.call('POST', '/api/rooms', token, { type: 'GROUP', name: 'x' }), 401, 'unauthorized');
    await expectStompRefused(token);
  }

  it('a valid token works on REST and on raw STOMP CONNECT (the control case)', async () => {
    const [a] = await api.users(1, 'tok-ok');
    expect((await api.call('GET', '/api/users/me', a!.token)).status).toBe(200);
    const c = await RawConn.tcp(server.tcpPort);
    const connected = await c.connectWith({ 'accept-version': '1.2', host: 'x', passcode: a!.token });
    expect(connected.headers['user-name']).toBe(a!.id);
    await c.frameWithReceipt('DISCONNECT', { receipt: 'bye' });
    await c.waitClosed(10_000);
  });

  it('alg:none with a real user as sub is refused', async () => {
    const [a] = await api.users(1, 'tok-none');
    const now = Math.floor(Date.now() / 1000);
    const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: a!.id, iat: now, exp: now + 3600 })}.`;
    await expectRefusedEverywhere(token);
  });

  it('a token signed with another secret is refused', async () => {
    const [a] = await api.users(1, 'tok-sig');
    await expectRefusedEverywhere(jwt.sign({}, 'some-other-secret-of-enough-length', { algorithm: 'HS256', subject: a!.id, expiresIn: 3600 }));
  });

  it('a token signed with the right secret but another algorithm (HS512) is refused', async () => {
    const [a] = await api.users(1, 'tok-alg');
    await expectRefusedEverywhere(jwt.sign({}, DEV_SECRET, { algorithm: 'HS512', subject: a!.id, expiresIn: 3600 }));
  });

  it('an expired token is refused', async () => {
    const [a] = await api.users(1, 'tok-exp');
    const now = Math.floor(Date.now() / 1000);
    await expectRefusedEverywhere(jwt.sign({ sub: a!.id, iat: now - 7200, exp: now - 3600 }, DEV_SECRET, { algorithm: 'HS256' }));
  });

  it('a correctly signed token for a user that does not exist, or with a non-numeric sub, is refused', async () => {
    await expectRefusedEverywhere(jwt.sign({}, DEV_SECRET, { algorithm: 'HS256', subject: '999999999999', expiresIn: 3600 }));
    await expectRefusedEverywhere(jwt.sign({}, DEV_SECRET, { algorithm: 'HS256', subject: 'admin', expiresIn: 3600 }));
    await expectRefusedEverywhere(jwt.sign({ admin: true }, DEV_SECRET, { algorithm: 'HS256', expiresIn: 3600 }));
  });

  it('the token of a deleted user is refused, and the user cannot log in', async () => {
    const [a] = await api.users(1, 'tok-del');
    expect((await api.call('GET', '/api/users/me', a!.token)).status).toBe(200);
    await db.query('UPDATE users SET deleted_at = now() WHERE id = $1', [a!.id]);
    await expectRefusedEverywhere(a!.token);
    expectApiError(await api.call('POST', '/api/auth/login', undefined, { email: a!.email, password: 'correct horse battery' }), 401, 'invalid-credentials');
  });
});

describe('non-members', () => {
  it('get 403 on history, send, read and room detail, and nothing is stored', async () => {
    const { a, room } = await freshRoom('nonmember');
    const outsider = await api.signup('outsider');
    const first = await api.send(a, room, 'members only');
    expect(first.status).toBe(202);

    expectApiError(await api.call('GET', `/api/rooms/${room}/messages`, outsider.token), 403, 'forbidden');
    expectApiError(await api.call('GET', `/api/rooms/${room}/messages?afterSeq=0`, outsider.token), 403, 'forbidden');
    expectApiError(await api.send(outsider, room, 'intruder'), 403, 'forbidden');
    expectApiError(await api.send(outsider, room, 'intruder with key', `k-${randomUUID()}`), 403, 'forbidden');
    expectApiError(await api.call('POST', `/api/rooms/${room}/read`, outsider.token, { seq: first.body.message.seq }), 403, 'forbidden');
    expectApiError(await api.call('GET', `/api/rooms/${room}`, outsider.token), 403, 'forbidden');
    // Leaving a room one is not in changes nothing.
    const leave = await api.call('POST', `/api/rooms/${room}/leave`, outsider.token);
    expect(leave.status).toBe(200);

    expect(await storedContents(a, room)).toEqual(['members only']);
    const members = (await api.call('GET', `/api/rooms/${room}`, a.token)).body.members as Array<{ userId: string }>;
    expect(members.map((m) => m.userId)).not.toContain(outsider.id);
    const positions = await db.query('SELECT 1 FROM chat_room_members WHERE room_id = $1 AND user_id = $2', [room, outsider.id]);
    expect(positions.rowCount).toBe(0);
    expect((await api.call('GET', '/api/notifications', outsider.token)).body).toEqual({ notifications: [] });
  });
});

describe('afterwards', () => {
  it('the server is still alive and ready', async () => {
    expect(server.proc.exitCode).toBeNull();
    expect((await api.call('GET', '/healthz')).status).toBe(200);
    expect((await api.call('GET', '/readyz')).status).toBe(200);
  });
});
