// Presence: online while any session lives on any instance; an instance killed with SIGKILL leaves
// nobody online longer than the presence TTL allows; presence events reach the user's rooms.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from '../support/api.js';
import { startServer, waitFor, type ServerProc } from '../support/cluster.js';
import { WsStomp, type Received } from '../support/stomp.js';
import { readSetting } from '../../src/config.js';

const TTL_MS = 2000;

describe('presence across instances', () => {
  let a: ServerProc;
  let b: ServerProc;
  let api: Api;

  beforeAll(async () => {
    const env = { PRESENCE_TTL_MS: String(TTL_MS) };
    [a, b] = await Promise.all([startServer({ env }), startServer({ env })]);
    api = new Api(b.baseUrl);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
  });

  const statusOf = async (viewer: { token: string }, roomId: string, userId: string) => (await api.memberStatus(viewer, roomId, userId))!;

  it('online while any session lives; offline when the last one closes; events to the room', async () => {
    const [watcher, user] = await api.pair('presence');
    const roomId = await api.group(watcher, [user]);
    const w = await WsStomp.connect(b.wsUrl, watcher.token);
    const events: Received[] = [];
    await w.subscribe(`/topic/rooms.${roomId}.events`, (m) => events.push(m));

    const s1 = await WsStomp.connect(a.wsUrl, user.token);
    await waitFor(async () => (await statusOf(watcher, roomId, user.id)).status === 'ONLINE', 10_000, 'online');
    const s2 = await WsStomp.connect(b.wsUrl, user.token);
    await s1.close();
    // Still online: the session on instance b lives.
    await new Promise((r) => setTimeout(r, TTL_MS));
    expect((await statusOf(watcher, roomId, user.id)).status).toBe('ONLINE');
    await s2.close();
    await waitFor(async () => (await statusOf(watcher, roomId, user.id)).status === 'OFFLINE', 10_000, 'offline');
    expect((await statusOf(watcher, roomId, user.id)).lastSeenAt).not.toBeNull();

    const presence = events.filter((e) => e.headers['event-type'] === 'presence' && e.body.userId === user.id).map((e) => e.body.status);
    expect(presence).toEqual(['ONLINE', 'OFFLINE']);
    await w.close();
  });

  it('an instance killed with SIGKILL leaves nobody online after ~1.5 x TTL', async () => {
    const [watcher, user] = await api.pair('killed');
    const roomId = await api.group(watcher, [user]);
    const victim = await startServer({ env: { PRESENCE_TTL_MS: String(TTL_MS) } });
    const s = await WsStomp.connect(victim.wsUrl, user.token);
    await waitFor(async () => (await statusOf(watcher, roomId, user.id)).status === 'ONLINE', 10_000, 'online');
    const t0 = Date.now();
    await victim.kill();
    s.client.forceDisconnect();
    await waitFor(async () => (await statusOf(watcher, roomId, user.id)).status === 'OFFLINE', 15_000, 'offline after kill', 100);
    const ms = Date.now() - t0;
    console.log(`[presence] offline ${ms} ms after SIGKILL (TTL ${TTL_MS} ms)`);
    // Bound: TTL (last refresh at most TTL/3 before the kill) + one sweep period (TTL/2) + slack.
    expect(ms).toBeLessThan(TTL_MS * 2 + 2000);
  });

  it('a connected user wrongly stored OFFLINE (a sweep that read Redis mid-failover) is ONLINE again within a refresh', async () => {
    const [watcher, user] = await api.pair('revive');
    const roomId = await api.group(watcher, [user]);
    const s = await WsStomp.connect(a.wsUrl, user.token);
    const w = await WsStomp.connect(b.wsUrl, watcher.token);
    const events: Received[] = [];
    await w.subscribe(`/topic/rooms.${roomId}.events`, (m) => events.push(m));
    await waitFor(async () => (await statusOf(watcher, roomId, user.id)).status === 'ONLINE', 10_000, 'online');
    const db = new pg.Client({ connectionString: readSetting('DATABASE_URL') });
    await db.connect();
    try {
      // What the sweeper writes when Redis answers that the user has no live session.
      await db.query(`UPDATE users SET status = 'OFFLINE' WHERE id = $1`, [user.id]);
    } finally {
      await db.end();
    }
    const t0 = Date.now();
    await waitFor(async () => (await statusOf(watcher, roomId, user.id)).status === 'ONLINE', 10_000, 'online again', 50);
    const ms = Date.now() - t0;
    console.log(`[presence] a wrong OFFLINE undone after ${ms} ms (refresh every TTL/3 = ${Math.floor(TTL_MS / 3)} ms)`);
    expect(ms).toBeLessThan(TTL_MS + 1000);
    await waitFor(
      () => events.some((e) => e.headers['event-type'] === 'presence' && e.body.userId === user.id && e.body.status === 'ONLINE'),
      5000,
      'the ONLINE event',
    );
    await Promise.all([s.close(), w.close()]);
  });
});
