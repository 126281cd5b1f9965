// Redis with failover, for real: a primary, a replica and three sentinels (local redis-server processes on this
// test's own ports, scripts/stack/redis-sentinel.mjs), two app instances configured with REDIS_SENTINELS, steady
// traffic into several rooms (senders with receipts and idempotency keys on both instances, live subscribers on both,
// read receipts flowing), then the primary SIGKILLed. Asserted exactly: sends resume by themselves; every
// acknowledged message is stored once with its RECEIPT's id and seq; every subscriber got every one of them live
// (its connection never dropped: gap repair from PostgreSQL fills what Pub/Sub lost), once, in seq order; nothing
// dead-lettered; read positions never moved backwards and the counts are exact afterwards; presence converges.
// Measured and printed ([redis-failover]): the longest delivery stall, p99 during the fault, time to recovery.
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisNodePid, sentinelPrimary, startRedisSentinel, stopRedisSentinel } from '../../scripts/stack/redis-sentinel.mjs';
import { Api, type Account } from '../support/api.js';
import { sleep, startServer, waitFor, type ServerProc } from '../support/cluster.js';
import { LiveSubscriber, ResilientReader, deadLettersSince, dltEnd } from '../support/failover.js';
import { metric } from '../support/scrape.js';
import { percentile } from '../support/stats.js';
import { ResilientSender } from '../support/resilient.js';
import { TEST_SENTINEL_SET } from '../support/sentinel.js';
import { WsStomp } from '../support/stomp.js';
import { readSetting } from '../../src/config.js';

const SET = TEST_SENTINEL_SET;
const ROOMS = 6;
const SEND_PAUSE_MS = 10;
const PRESENCE_TTL_MS = 3000;
/** A delivery later than this after its creation was held up by the fault (normal p99 here is tens of ms). */
const LATE_MS = 1000;
const BROKERS = readSetting('KAFKA_BROKERS');

interface Room {
  id: string;
  senders: ResilientSender[];
  subscribers: LiveSubscriber[];
  readers: [ResilientReader, ResilientReader];
  readerAccounts: [Account, Account];
  subscriberAccounts: Account[];
  running: Promise<void>[];
}

describe('Redis Sentinel: the primary SIGKILLed under load', () => {
  let servers: ServerProc[] = [];
  let db: pg.Pool;
  const urls = (first: number) => [servers[first % 2]!.wsUrl, servers[(first + 1) % 2]!.wsUrl];

  beforeAll(async () => {
    const { env } = await startRedisSentinel({ ...SET, log: (m) => console.log(`[redis-failover] ${m}`) });
    servers = await Promise.all([0, 1].map(() => startServer({ env: { ...env, PRESENCE_TTL_MS: String(PRESENCE_TTL_MS) } })));
    db = new pg.Pool({ connectionString: readSetting('DATABASE_URL'), max: 2 });
  }, 180_000);

  afterAll(async () => {
    await db?.end();
    await Promise.allSettled(servers.map((s) => s.stop()));
    await stopRedisSentinel({ ...SET, log: () => {} });
  });

  it('loses nothing acknowledged, delivers everything live once and in order, keeps read counts exact, converges presence', async () => {
    const api = new Api(servers[0]!.baseUrl);
    // Sign-ups 8 at a time (password hashing is queued per address).
    const accounts = await api.users(ROOMS * 8, 'fo');
    const rooms = await Promise.all(Array.from({ length: ROOMS }, (_, i) => openRoom(api, i, accounts.slice(i * 8, i * 8 + 8))));
    const presence = await presenceClients(api);

    // --- steady traffic -------------------------------------------------------------------------------------
    const dltStart = await dltEnd(BROKERS);
    const t0 = Date.now();
    let readersOn = true;
    let readerBOn = true;
    const readLoops = rooms.flatMap((r) => r.readers.map((reader, k) => readLoop(reader, r, () => readersOn && (k === 0 || readerBOn))));
    for (const r of rooms) r.running.push(...r.senders.map((s) => s.run(1_000_000, SEND_PAUSE_MS)));
    const acked = () => rooms.reduce((n, r) => n + r.senders.reduce((m, s) => m + s.acked.length, 0), 0);
    await waitFor(() => acked() >= 600 && Date.now() - t0 > 3000, 60_000, 'traffic flowing', 50);
    const rateBefore = (acked() / (Date.now() - t0)) * 1000;

    // --- the fault --------------------------------------------------------------------------------------------
    const probe = await WriteProbe.start(SET.primaryPort);
    await sleep(1000);
    const pid = redisNodePid(SET.primaryPort, SET);
    expect(pid).toBeGreaterThan(0);
    const ackedAtKill = acked();
    process.kill(pid!, 'SIGKILL');
    const killAt = Date.now();
    await Promise.all(presence.leavers.map((c) => c.close()));
    presence.joiners.push(...(await Promise.all(presence.joinerAccounts.map((u, i) => WsStomp.connect(urls(i)[0]!, u.token)))));
    const converged = waitForPresence(api, rooms, presence, killAt);

    await waitFor(async () => (await sentinelPrimary(SET)).port === SET.replicaPort, 60_000, 'the sentinels to promote the replica', 50);
    const promotedMs = Date.now() - killAt;
    const window = await probe.survivors(SET.replicaPort);
    await waitFor(
      async () => (await Promise.all(servers.map((s) => fetch(`${s.baseUrl}/readyz`)))).every((r) => r.status === 200),
      60_000,
      'both instances ready',
      50,
    );
    const readyMs = Date.now() - killAt;
    await waitFor(() => acked() >= ackedAtKill + 50, 60_000, 'sends acknowledged again', 50);
    readerBOn = false; // reader B's position is the one written around the failover
    await sleep(5000);

    // --- quiesce ------------------------------------------------------------------------------------------------
    for (const r of rooms) for (const s of r.senders) s.stopped = true;
    await Promise.all(rooms.flatMap((r) => r.running));
    readersOn = false;
    await Promise.all(readLoops);
    const sentMs = Date.now() - t0;

    // --- exactly once, in order, live ---------------------------------------------------------------------------
    let lateDeliveries = 0;
    for (const r of rooms) {
      const ackedHere = r.senders.flatMap((s) => s.acked);
      const stored = await waitFor(
        async () => {
          const all = await api.allMessages(r.readerAccounts[0], r.id);
          return all.length >= ackedHere.length ? all : null;
        },
        60_000,
        `room ${r.id}: every acknowledged message stored`,
        250,
      );
      expect(stored.length, `room ${r.id} stored`).toBe(ackedHere.length);
      expect(new Set(stored.map((m: { content: string }) => m.content)).size).toBe(ackedHere.length);
      const seqOf = new Map(stored.map((m: { id: string; seq: string }) => [m.id, m.seq]));
      for (const a of ackedHere) expect(seqOf.get(a.id), `${a.key}: stored with its RECEIPT's id and seq`).toBe(a.seq);
      const storedIds = stored.map((m: { id: string }) => m.id);
      await waitFor(() => r.subscribers.every((s) => s.got.length >= storedIds.length), 60_000, `room ${r.id}: all delivered live`, 100);
      for (const s of r.subscribers) {
        expect(s.lost, `${s.name}: its connection stayed up`).toEqual([]);
        expect(s.ids, `${s.name}: every acknowledged message once, in seq order`).toEqual(storedIds);
        lateDeliveries += s.got.filter((d) => d.receivedAt - d.createdAt > LATE_MS).length;
      }
    }

    // --- read positions and counts ------------------------------------------------------------------------------
    let readErrors = 0;
    for (const r of rooms) {
      const [readerA, readerB] = r.readers;
      readErrors += readerA.errors.length + readerB.errors.length;
      for (const reader of r.readers)
        for (let i = 1; i < reader.positions.length; i++)
          expect(reader.positions[i]! >= reader.positions[i - 1]!, 'a RECEIPTed read position never moved back').toBe(true);
      const stored = await api.allMessages(r.readerAccounts[0], r.id);
      const last = BigInt(stored[stored.length - 1].seq);
      expect(await readerA.mark(last)).toBe(last);
      // Reader B stopped around the failover: asking for the first message must answer its acknowledged position.
      const posB = readerB.acked;
      expect(posB).toBeGreaterThan(0n);
      expect(await readerB.mark(BigInt(stored[0].seq))).toBe(posB);
      await expectCounts(api, r, stored, last, posB);
    }

    // --- presence, dead letters, what the instances saw ------------------------------------------------------------
    const presenceMs = await converged;
    const counters = await Promise.all(
      servers.map(async (s) => ({
        deadLettered: await sumMetric(s.baseUrl, 'chat_dead_lettered_total'),
        gapRepairs: await metric(s.baseUrl, 'chat_fanout_gap_repairs_total'),
        waitAcked: await metric(s.baseUrl, 'chat_redis_replica_wait_seconds_count', 'outcome="acked"'),
        waitAckedSeconds: await metric(s.baseUrl, 'chat_redis_replica_wait_seconds_sum', 'outcome="acked"'),
        waitTimeouts: await metric(s.baseUrl, 'chat_redis_replica_wait_seconds_count', 'outcome="timeout"'),
        waitFailed: await metric(s.baseUrl, 'chat_redis_replica_wait_seconds_count', 'outcome="failed"'),
        reconnects: await sumMetric(s.baseUrl, 'chat_redis_reconnects_total'),
      })),
    );
    const ours = new Set(rooms.map((r) => r.id));
    const deadLetters = (await deadLettersSince(BROKERS, dltStart)).filter((d) => d.key !== null && ours.has(d.key));
    expect(deadLetters, "dead letters of this test's rooms").toEqual([]);
    expect(counters.reduce((n, c) => n + c.waitAcked, 0)).toBeGreaterThan(0);
    // What WAIT is for: every increment the replica acknowledged is on the promoted replica.
    expect(window.survived).toBeGreaterThanOrEqual(window.lastReplicated);

    const deliveries = rooms.flatMap((r) => r.subscribers.flatMap((s) => s.got));
    const lastLate = Math.max(killAt, ...deliveries.filter((d) => d.receivedAt - d.createdAt > LATE_MS).map((d) => d.receivedAt));
    const during = deliveries.filter((d) => d.createdAt >= killAt && d.createdAt <= lastLate).map((d) => d.receivedAt - d.createdAt);
    const before = deliveries.filter((d) => d.createdAt < killAt - 500).map((d) => d.receivedAt - d.createdAt);
    const result = {
      rooms: ROOMS,
      subscribers: rooms.length * 4,
      msgsPerSec: Math.round(rateBefore),
      acknowledged: acked(),
      delivered: deliveries.length,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      longestStallMs: Math.max(...rooms.flatMap((r) => r.subscribers.map((s) => longestGap(s.got)))),
      p99DuringFaultMs: percentile(during, 99),
      p99BeforeMs: percentile(before, 99),
      recoveryMs: lastLate - killAt,
      longestSendStallMs: longestGap(
        rooms.flatMap((r) => r.senders.flatMap((s) => s.acked.map((a) => ({ receivedAt: a.at })))).sort((x, y) => x.receivedAt - y.receivedAt),
      ),
      promotedMs,
      readyMs,
      presenceConvergedMs: presenceMs,
      lateDeliveries,
      sendRetries: rooms.reduce((n, r) => n + r.senders.reduce((m, s) => m + s.acked.filter((a) => a.attempts > 1).length, 0), 0),
      readRetries: readErrors,
      // Writes the primary acknowledged that the promoted replica did not have: asynchronous replication's window.
      asyncWindow: {
        acknowledgedWithoutWait: window.lastAcked,
        survived: window.survived,
        lost: window.lastAcked - window.survived,
        probeWritesPerSec: window.perSec,
      },
      replicaWait: {
        acked: sum(counters.map((c) => c.waitAcked)),
        meanMs: Number(((sum(counters.map((c) => c.waitAckedSeconds)) / Math.max(1, sum(counters.map((c) => c.waitAcked)))) * 1000).toFixed(2)),
        p50AtMostMs: await waitQuantile(0.5),
        p99AtMostMs: await waitQuantile(0.99),
        timeouts: sum(counters.map((c) => c.waitTimeouts)),
        failed: sum(counters.map((c) => c.waitFailed)),
      },
      gapRepairs: sum(counters.map((c) => c.gapRepairs)),
      // Other tests' poison records on the shared topic, dead-lettered by these instances' groups too.
      foreignDeadLetters: sum(counters.map((c) => c.deadLettered)),
      redisReconnects: sum(counters.map((c) => c.reconnects)),
      sendingMs: sentMs,
    };
    console.log(`[redis-failover] ${JSON.stringify(result)}`);

    await Promise.all([
      ...rooms.flatMap((r) => [...r.subscribers.map((s) => s.close()), ...r.senders.map((s) => s.close()), ...r.readers.map((x) => x.close())]),
      ...presence.joiners.map((c) => c.close()),
      presence.stayer.close(),
    ]);
  }, 600_000);

  /** The WAIT duration under which a quantile of the acknowledged WAITs of both instances fell (a histogram bound). */
  async function waitQuantile(q: number): Promise<number> {
    const buckets = new Map<number, number>();
    for (const s of servers) {
      const text = await (await fetch(`${s.baseUrl}/metrics`)).text();
      for (const m of text.matchAll(/^chat_redis_replica_wait_seconds_bucket\{le="([^"]+)"[^}]*outcome="acked"[^}]*\} (\S+)$/gm)) {
        const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
        buckets.set(le, (buckets.get(le) ?? 0) + Number(m[2]));
      }
    }
    const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
    const total = sorted[sorted.length - 1]?.[1] ?? 0;
    const hit = sorted.find(([, n]) => n >= q * total);
    return hit ? hit[0] * 1000 : NaN;
  }

  /** A room: 2 senders (one per instance), 4 live subscribers (2 per instance), 2 readers. */
  async function openRoom(api: Api, i: number, users: Account[]): Promise<Room> {
    const [s0, s1, ...rest] = users;
    const id = await api.group(s0!, [s1!, ...rest]);
    const subs = rest.slice(0, 4);
    const readerAccounts = [rest[4]!, rest[5]!] as [Account, Account];
    const subscribers = await Promise.all(subs.map((u, k) => LiveSubscriber.start(`room${i}-sub${k}`, urls(k)[0]!, u.token, id)));
    return {
      id,
      senders: [s0!, s1!].map((u, k) => new ResilientSender(() => urls(k), u.token, id, `fo-${i}-${k}`)),
      subscribers,
      readers: readerAccounts.map((u, k) => new ResilientReader(() => urls(k), u.token, id)) as [ResilientReader, ResilientReader],
      readerAccounts,
      subscriberAccounts: subs,
      running: [],
    };
  }

  /** Every 150 ms, marks the room read up to the newest message its first subscriber has seen. */
  async function readLoop(reader: ResilientReader, room: Room, on: () => boolean): Promise<void> {
    while (on()) {
      const got = room.subscribers[0]!.got;
      if (got.length > 0) await reader.mark(got[got.length - 1]!.seq);
      await sleep(150);
    }
  }

  /** Stayer: connected throughout; leavers: disconnect just after the kill; joiners: connect just after it. */
  async function presenceClients(api: Api) {
    const [observer, stayer, l0, l1, j0, j1] = await api.users(6, 'fo-presence');
    const roomId = await api.group(observer!, [stayer!, l0!, l1!, j0!, j1!]);
    const [stayerConn, ...leavers] = await Promise.all([stayer!, l0!, l1!].map((u, i) => WsStomp.connect(urls(i)[0]!, u.token)));
    await waitFor(
      async () => statuses(api, observer!, roomId, [stayer!, l0!, l1!]).then((s) => s.every((x) => x === 'ONLINE')),
      30_000,
      'presence clients online',
    );
    return {
      observer: observer!,
      roomId,
      stayer: stayerConn!,
      stayerAccount: stayer!,
      leavers,
      leaverAccounts: [l0!, l1!],
      joinerAccounts: [j0!, j1!],
      joiners: [] as WsStomp[],
    };
  }

  /**
   * Resolves with the ms from the kill until presence converged: leavers OFFLINE, joiners, the stayer and every room
   * subscriber ONLINE — and still so one ttl later (no flapping back).
   */
  async function waitForPresence(api: Api, rooms: Room[], p: Awaited<ReturnType<typeof presenceClients>>, killAt: number): Promise<number> {
    let seen = '';
    const right = async () => {
      const [leavers, online] = await Promise.all([
        statuses(api, p.observer, p.roomId, p.leaverAccounts),
        statuses(api, p.observer, p.roomId, [p.stayerAccount, ...p.joinerAccounts]),
      ]);
      const subscribers = await Promise.all(rooms.map((r) => statuses(api, r.readerAccounts[0], r.id, r.subscriberAccounts)));
      seen = JSON.stringify({ leavers, stayerAndJoiners: online, subscribers });
      return leavers.every((s) => s === 'OFFLINE') && [...online, ...subscribers.flat()].every((s) => s === 'ONLINE');
    };
    const bound = 4 * PRESENCE_TTL_MS + 30_000;
    await waitFor(right, bound, () => `presence to converge after the failover (last seen: ${seen})`, 100);
    const ms = Date.now() - killAt;
    // Still right a ttl later. Other deployments sharing this PostgreSQL (but not this Redis) sweep users they do not
    // see online, these included; the instances turn them back ONLINE within a refresh (ttl/3).
    await sleep(PRESENCE_TTL_MS);
    await waitFor(right, PRESENCE_TTL_MS, () => `presence still right one ttl later (last seen: ${seen})`, 100);
    return ms;
  }

  async function statuses(api: Api, viewer: Account, roomId: string, users: Account[]): Promise<string[]> {
    const members = (await api.call('GET', `/api/rooms/${roomId}`, viewer.token)).body.members as Array<{ userId: string; status: string }>;
    return users.map((u) => members.find((m) => m.userId === u.id)?.status ?? 'missing');
  }

  /** Per message, per reader room count, member positions over REST, and chat_room_members in PostgreSQL. */
  async function expectCounts(api: Api, r: Room, stored: Array<{ seq: string; unreadCount: number }>, posA: bigint, posB: bigint): Promise<void> {
    const [a, b] = r.readerAccounts;
    // 8 members: the sender and 7 others, of whom only the two readers ever read.
    const unread = (seq: bigint) => 7 - (posA >= seq ? 1 : 0) - (posB >= seq ? 1 : 0);
    await waitFor(
      async () => {
        const again = await api.allMessages(a, r.id);
        return again.every((m: { seq: string; unreadCount: number }) => m.unreadCount === unread(BigInt(m.seq))) ? again : null;
      },
      30_000,
      () => `room ${r.id}: every per-message unreadCount exact`,
      250,
    );
    const unreadOfB = stored.filter((m) => BigInt(m.seq) > posB).length;
    const roomsOfB = (await api.call('GET', '/api/rooms', b.token)).body.rooms as Array<{ id: string; unreadCount: number }>;
    expect(roomsOfB.find((x) => x.id === r.id)?.unreadCount, 'reader B: room unreadCount').toBe(unreadOfB);
    const members = (await api.call('GET', `/api/rooms/${r.id}`, a.token)).body.members as Array<{ userId: string; lastReadSeq: string }>;
    expect(members.find((m) => m.userId === a.id)?.lastReadSeq).toBe(String(posA));
    expect(members.find((m) => m.userId === b.id)?.lastReadSeq).toBe(String(posB));
    // Reader B's stored unread_count was computed when its last receipt was consumed (messages kept coming after it).
    const want = [`${a.id}:${posA}:0`, `${b.id}:${posB}`].sort();
    await waitFor(
      async () => {
        const { rows } = await db.query<{ k: string }>(
          `SELECT user_id || ':' || last_read_seq || CASE WHEN user_id = $3 THEN ':' || unread_count ELSE '' END AS k
             FROM chat_room_members WHERE room_id = $1 AND user_id = ANY($2::bigint[])`,
          [r.id, [a.id, b.id], a.id],
        );
        return JSON.stringify(rows.map((x) => x.k).sort()) === JSON.stringify(want);
      },
      30_000,
      `room ${r.id}: positions synced to chat_room_members`,
      200,
    );
  }
});

/**
 * Increments one counter on the primary in a loop (each INCR answered before the next) and asks WAIT 1 after every
 * tenth: after the failover, the promoted replica's value says how many acknowledged writes asynchronous replication
 * lost, and must include every increment a WAIT said the replica had.
 */
class WriteProbe {
  private lastAcked = 0;
  private lastAckedAt = Date.now();
  private lastReplicated = 0;
  private stopped = false;
  private readonly t0 = Date.now();
  private readonly loop: Promise<void>;

  private constructor(private readonly redis: Redis) {
    this.loop = this.run();
  }

  static async start(port: number): Promise<WriteProbe> {
    const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => {});
    await redis.del('probe:failover');
    return new WriteProbe(redis);
  }

  private async run(): Promise<void> {
    try {
      while (!this.stopped) {
        const v = await this.redis.incr('probe:failover');
        this.lastAcked = v;
        this.lastAckedAt = Date.now();
        if (v % 10 === 0 && Number(await this.redis.call('WAIT', 1, 1000)) >= 1) this.lastReplicated = v;
      }
    } catch {
      // the primary is gone
    }
  }

  /** Stops (the primary died) and reads what the promoted replica on `port` holds. */
  async survivors(port: number): Promise<{ lastAcked: number; lastReplicated: number; survived: number; perSec: number }> {
    this.stopped = true;
    await this.loop;
    this.redis.disconnect();
    const promoted = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
    try {
      const survived = Number((await promoted.get('probe:failover')) ?? 0);
      return {
        lastAcked: this.lastAcked,
        lastReplicated: this.lastReplicated,
        survived,
        perSec: Math.round(this.lastAcked / ((this.lastAckedAt - this.t0) / 1000)),
      };
    } finally {
      promoted.disconnect();
    }
  }
}

function longestGap(got: ReadonlyArray<{ receivedAt: number }>): number {
  let gap = 0;
  for (let i = 1; i < got.length; i++) gap = Math.max(gap, got[i]!.receivedAt - got[i - 1]!.receivedAt);
  return gap;
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/** The sum of every series of a metric (all labels). */
async function sumMetric(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}
