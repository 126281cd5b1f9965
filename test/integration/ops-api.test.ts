// /api/ops/* against a real server process in embedded mode — its dead-letter topic is its own, so every count is
// exact — with a poison record written into its message log before it starts: the three groups of chat.messages
// dead-letter it, and the console's REST API lists, replays and discards the copies. Plus who may call what
// (401 / 403 / 400 naming the field), the overview's contract fields, the history, /ops and the chart library.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalMessageLog } from '../../src/local-log/local-log.js';
import { noMetrics, tempDir, testLogger } from '../contract/support.js';
import { Api, type Account } from '../support/api.js';
import { startServer, waitFor, type ServerProc } from '../support/cluster.js';

const TAG = randomUUID().slice(0, 8);
const ADMIN = `Ops-Admin-${TAG}@Test.Local`;
const P = process.env.KAFKA_GROUP_PREFIX ?? '';
const GROUPS = [`${P}chat-broadcast`, `${P}chat-notify`, `${P}chat-persist`];

interface Entry {
  partition: number;
  offset: string;
  group: string;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  attempts: number;
  error: string;
  preview: string;
  replayedFrom: string | null;
  handled: { action: string; actor: string; replayedTo: string | null } | null;
}

describe('/api/ops in embedded mode', () => {
  let server: ServerProc;
  let api: Api;
  let admin: Account;
  let user: Account;
  let folder: { dir: string; remove(): Promise<void> };
  const list = async (query = '') =>
    (await api.call('GET', `/api/ops/dead-letters${query}`, admin.token)).body as { records: Entry[]; next: string | null; pending: number };
  const overview = async () => (await api.call('GET', '/api/ops/overview', admin.token)).body;

  beforeAll(async () => {
    folder = await tempDir('ops-api');
    const log = await LocalMessageLog.open({ dir: `${folder.dir}/log`, log: testLogger(), metrics: noMetrics });
    await log.publish('chat.messages', '1', `not json ${TAG}`, { 'x-test': TAG });
    await log.close();
    server = await startServer({ env: { MODE: 'embedded', DATA_DIR: folder.dir, ADMIN_EMAILS: `someone@else.example, ${ADMIN}` } });
    api = new Api(server.baseUrl);
    const r = await api.call('POST', '/api/auth/signup', undefined, { email: ADMIN.toLowerCase(), password: 'correct horse battery', nickname: 'ops' });
    admin = { id: r.body.user.id, email: ADMIN.toLowerCase(), token: r.body.accessToken };
    user = await api.signup('not-admin');
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    await folder?.remove();
  });

  it('administrators by ADMIN_EMAILS (any case); everyone else 403, nobody without a token 401; admin in /api/users/me', async () => {
    expect((await api.call('GET', '/api/users/me', admin.token)).body.admin).toBe(true);
    expect((await api.call('GET', '/api/users/me', user.token)).body.admin).toBe(false);
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/api/ops/overview'],
      ['GET', '/api/ops/history'],
      ['GET', '/api/ops/dead-letters'],
      ['POST', '/api/ops/dead-letters/replay', { records: [{ partition: 0, offset: '0' }] }],
      ['POST', '/api/ops/dead-letters/discard', { records: [{ partition: 0, offset: '0' }] }],
    ];
    for (const [method, path, body] of routes) {
      const denied = await api.call(method, path, user.token, body);
      expect([path, denied.status, denied.body.error.code]).toEqual([path, 403, 'forbidden']);
      expect((await api.call(method, path, undefined, body)).status).toBe(401);
    }
  });

  it('a bad query or body is a 400 naming the field', async () => {
    const bad = async (method: string, path: string, body?: unknown) => {
      const r = await api.call(method, path, admin.token, body);
      expect(r.status, path).toBe(400);
      return r.body.error.field as string;
    };
    expect(await bad('GET', '/api/ops/dead-letters?limit=0')).toBe('limit');
    expect(await bad('GET', '/api/ops/dead-letters?before=banana')).toBe('before');
    expect(await bad('GET', '/api/ops/dead-letters?include=some')).toBe('include');
    expect(await bad('POST', '/api/ops/dead-letters/replay', {})).toBe('records');
    expect(await bad('POST', '/api/ops/dead-letters/replay', { records: [] })).toBe('records');
    expect(await bad('POST', '/api/ops/dead-letters/discard', { records: [{ partition: 0, offset: '-1' }] })).toBe('records.0.offset');
    expect(await bad('POST', '/api/ops/dead-letters/discard', { records: [{ partition: 0, offset: '1', extra: 1 }] })).toMatch(/extra/);
    const many = Array.from({ length: 501 }, (_, i) => ({ partition: 0, offset: String(i) }));
    expect(await bad('POST', '/api/ops/dead-letters/discard', { records: many })).toBe('records');
  });

  it('the overview: this instance with its roles and sessions, the four groups ready with their lag, and the 3 dead letters of the poison record', async () => {
    const o = await waitFor(
      async () => {
        const v = await overview();
        return v.deadLetters === 3 && v.instances.length === 1 ? v : null;
      },
      60_000,
      'the poison record dead-lettered by the three groups',
    );
    expect(o.instances[0]).toMatchObject({
      id: server.instanceId,
      roles: ['gateway', 'persist', 'broadcast', 'notify', 'receipts'],
      mode: 'embedded',
      sessions: 0,
    });
    expect(o.groups.map((g: { groupId: string }) => g.groupId)).toEqual([...GROUPS, `${P}chat-receipts`]);
    for (const g of o.groups) expect(g).toMatchObject({ lag: 0, ready: true, members: [server.instanceId] });
    expect(o.groups[0].partitions).toHaveLength(6);
    expect(o.totals).toMatchObject({ sessions: 0 });
    const history = await waitFor(
      async () => {
        const h = (await api.call('GET', '/api/ops/history', admin.token)).body;
        return h.points.length > 1 ? h : null;
      },
      20_000,
      'two points of history',
    );
    expect(Object.keys(history.points.at(-1))).toEqual(['t', 'messagesIn', 'deliveriesOut', 'stompErrors', 'p50Ms', 'p99Ms', 'lag', 'cpu']);
  });

  it('the list: newest first with source coordinates, group, attempts and error; paged; filtered by group', async () => {
    const all = await list();
    expect(all.pending).toBe(3);
    expect(all.records.map((r) => r.group).sort()).toEqual(GROUPS);
    expect(all.records.map((r) => Number(r.offset))).toEqual([2, 1, 0]);
    for (const r of all.records) {
      expect(r).toMatchObject({
        partition: 0,
        sourceTopic: 'chat.messages',
        sourceOffset: '0',
        attempts: 3,
        preview: `not json ${TAG}`,
        replayedFrom: null,
        handled: null,
      });
      expect(r.error).toMatch(/is not JSON/);
    }
    const first = await list('?limit=2');
    expect(first.records.map((r) => r.offset)).toEqual(['2', '1']);
    const rest = await list(`?limit=2&before=${encodeURIComponent(first.next!)}`);
    expect(rest).toMatchObject({ records: [{ offset: '0' }], next: null });
    expect((await list(`?group=${P}chat-persist`)).records).toHaveLength(1);
  });

  it('replay puts one copy back (still poison: dead-lettered again, noting the replay); discard hides a selection; the counts follow exactly', async () => {
    const persistCopy = (await list(`?group=${P}chat-persist`)).records[0]!;
    const replay = (await api.call('POST', '/api/ops/dead-letters/replay', admin.token, { records: [{ partition: 0, offset: persistCopy.offset }] })).body;
    expect(replay).toMatchObject({
      replayed: [{ partition: 0, offset: persistCopy.offset, topic: 'chat.messages', toPartition: persistCopy.sourcePartition }],
      sameSource: [],
      skipped: [],
      missing: [],
    });
    const again = await waitFor(
      async () => {
        const l = await list();
        return l.pending === 5 ? l : null;
      },
      60_000,
      'the replayed poison record dead-lettered again by the three groups',
    );
    const copies = again.records.filter((r) => r.replayedFrom === persistCopy.offset);
    expect(copies.map((r) => r.group).sort()).toEqual(GROUPS);
    expect(copies.every((r) => r.sourceOffset === replay.replayed[0].toOffset)).toBe(true);

    const discard = (
      await api.call('POST', '/api/ops/dead-letters/discard', admin.token, {
        records: [...copies.slice(0, 2).map((r) => ({ partition: 0, offset: r.offset })), { partition: 0, offset: '999999' }],
      })
    ).body;
    const byOffset = (a: { offset: string }, b: { offset: string }) => Number(a.offset) - Number(b.offset);
    expect(discard).toEqual({
      discarded: copies
        .slice(0, 2)
        .map((r) => ({ partition: 0, offset: r.offset }))
        .sort(byOffset),
      missing: [{ partition: 0, offset: '999999' }],
    });
    expect((await list()).pending).toBe(3);
    expect((await overview()).deadLetters).toBe(3);
    const everything = await list('?include=all&limit=200');
    expect(everything.records).toHaveLength(6);
    const actor = `user:${admin.id} ${admin.email}`;
    expect(everything.records.find((r) => r.offset === persistCopy.offset)!.handled).toMatchObject({
      action: 'replayed',
      actor,
      replayedTo: `chat.messages[${replay.replayed[0].toPartition}]@${replay.replayed[0].toOffset}`,
    });
    for (const c of copies.slice(0, 2))
      expect(everything.records.find((r) => r.offset === c.offset)!.handled).toMatchObject({ action: 'discarded', actor, replayedTo: null });
  }, 120_000);

  it('/ops opens the console view; the chart library is served from the app itself', async () => {
    const res = await fetch(`${server.baseUrl}/ops`, { redirect: 'manual' });
    expect([res.status, res.headers.get('location')]).toEqual([302, '/#/ops']);
    const js = await fetch(`${server.baseUrl}/vendor/uplot/uPlot.iife.min.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${server.baseUrl}/vendor/uplot/uPlot.min.css`)).status).toBe(200);
    expect((await fetch(`${server.baseUrl}/ops/console.js`)).status).toBe(200);
  });
});
