// Claim: nothing acknowledged is lost, duplicated or reordered when the nodes of a replicated Kafka cluster fail
// under load. A local 3-node KRaft cluster (replication 3, min.insync.replicas 2, no unclean election) of this
// test's own, two app instances with every role, rooms with a pipelined sender and a subscriber on each instance,
// read positions posted while it runs; then, one run each: the leader of the busiest partitions killed, the group
// coordinator killed, the active controller killed, a rolling restart, two nodes down at once. After each: every
// acknowledged message is stored once under its acknowledged seq, delivered live to every subscriber once and in
// seq order, nothing was dead-lettered, and read counts are exact. Stall, p99 and recovery go to RELIABILITY.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionStates, withAdmin } from '../../scripts/stack/kafka-admin.mjs';
import { stopNode } from '../../scripts/stack/kafka-node.mjs';
import { clusterPorts, groupCoordinators, killNode, quorumLeader, restartNode, startKafkaNodes, stopKafkaNodes } from '../../scripts/stack/kafka-cluster.mjs';
import { Api, type Account } from '../support/api.js';
import { ROOT, sleep, startServer, waitFor, type ServerProc } from '../support/cluster.js';
import { percentile } from '../support/stats.js';
import { PipelinedSender, Reader, RecordingReceiver } from '../support/traffic.js';
import { faultReport, type FaultRow } from '../support/fault-report.js';

const PORTS = clusterPorts(19092, 3);
const NODE_OF_PORT = new Map(PORTS.map((p, i) => [i + 1, p]));
const ROOMS = 8;
const RATE_PER_ROOM = 25; // 200 msgs/s in all, 400 deliveries/s
const PREFIX = `kf${Date.now()}-`;
const GROUPS = ['chat-persist', 'chat-broadcast', 'chat-notify', 'chat-receipts'].map((g) => PREFIX + g);

describe('replicated Kafka (3 nodes): node faults under load', () => {
  let brokers: string[] = [];
  let servers: ServerProc[] = [];
  const rows: FaultRow[] = [];
  const urls = () => servers.map((s) => s.wsUrl);

  beforeAll(async () => {
    ({ brokers } = await startKafkaNodes({ ports: PORTS, fresh: true, log: (m) => console.log(`[kafka-cluster] ${m}`) }));
    const env = { KAFKA_BROKERS: brokers.join(','), KAFKA_GROUP_PREFIX: PREFIX, KAFKA_APPEND_TIMEOUT_MS: '8000' };
    servers = await Promise.all([startServer({ env, instanceId: 'kf-app-1' }), startServer({ env, instanceId: 'kf-app-2' })]);
  }, 240_000);

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop().catch(() => s.kill())));
    await stopKafkaNodes({ ports: PORTS, log: () => {} });
    if (rows.length) {
      mkdirSync(`${ROOT}.stack/test-logs`, { recursive: true });
      writeFileSync(`${ROOT}.stack/test-logs/kafka-failover.json`, JSON.stringify(rows, null, 2));
      console.log(faultReport(rows));
    }
  }, 120_000);

  async function fullIsr(): Promise<void> {
    await waitFor(
      async () => (await partitionStates(brokers, ['chat.messages', 'chat.read-receipts'])).every((p) => p.isr.length === 3 && p.leader >= 0),
      120_000,
      'every partition back to 3 in-sync replicas',
      500,
    );
  }

  /** The node leading most chat.messages partitions that this run's rooms use. */
  async function busiestLeader(roomIds: string[]): Promise<number> {
    const used = new Set(roomIds.map((r) => Number(BigInt(r) % 6n)));
    const states = await partitionStates(brokers, ['chat.messages']);
    const count = new Map<number, number>();
    for (const s of states) if (used.has(s.partition)) count.set(s.leader, (count.get(s.leader) ?? 0) + 1);
    return [...count].sort((a, b) => b[1] - a[1])[0]![0];
  }

  async function restartAndWait(node: number): Promise<void> {
    restartNode(NODE_OF_PORT.get(node)!);
    await fullIsr();
  }

  interface Run {
    senders: PipelinedSender[];
    receivers: RecordingReceiver[];
    readers: Reader[];
    rooms: Array<{ owner: Account; a: Account; b: Account; roomId: string }>;
  }

  async function startTraffic(name: string): Promise<Run> {
    const api = new Api(servers[0]!.baseUrl);
    const rooms = await Promise.all(
      Array.from({ length: ROOMS }, async (_, i) => {
        const [owner, a, b] = await api.users(3, `${name}${i}`);
        return { owner: owner!, a: a!, b: b!, roomId: await api.group(owner!, [a!, b!]) };
      }),
    );
    const receivers = rooms.flatMap((r) => [new RecordingReceiver(urls, r.a, r.roomId, 0), new RecordingReceiver(urls, r.b, r.roomId, 1)]);
    await Promise.all(receivers.map((r) => r.start()));
    const readers = receivers.map((r, i) => new Reader(() => new Api(servers[i % servers.length]!.baseUrl), r, 1000));
    readers.forEach((r) => r.start());
    const senders = rooms.map((r, i) => new PipelinedSender(urls, r.owner.token, r.roomId, `${name}-${i}`, { ratePerSec: RATE_PER_ROOM, window: 8 }));
    senders.forEach((s) => s.start());
    await waitFor(() => senders.every((s) => s.acked.length >= 25), 60_000, 'traffic flowing', 100);
    return { senders, receivers, readers, rooms };
  }

  /** Runs traffic around `fault`, then checks every outcome exactly and records the figures. */
  async function scenario(name: string, fault: (run: Run) => Promise<void>, extra?: (run: Run, faultAt: number, healedAt: number) => void): Promise<void> {
    const dltBefore = await dltEnd();
    const run = await startTraffic(name);
    const faultAt = Date.now();
    await fault(run);
    const healedAt = Date.now();
    // Traffic goes on after the cluster is whole again, then stops; every message begun must be acknowledged.
    const ackedAtHeal = run.senders.reduce((n, s) => n + s.acked.length, 0);
    await waitFor(() => run.senders.reduce((n, s) => n + s.acked.length, 0) > ackedAtHeal + ROOMS * RATE_PER_ROOM * 3, 120_000, 'traffic after the fault', 100);
    await Promise.all(run.senders.map((s) => s.stop()));
    run.readers.forEach((r) => r.stop());

    const api = new Api(servers[0]!.baseUrl);
    let stalls = 0;
    const latencies: number[] = [];
    for (const [i, room] of run.rooms.entries()) {
      const sender = run.senders[i]!;
      const acked = sender.acked;
      // Every key acknowledged exactly once (retries under the same idempotency key map to one message).
      expect(new Set(acked.map((a) => a.key)).size, `${name} room ${i} keys`).toBe(acked.length);
      expect(acked.length, `${name} room ${i} acked`).toBe(sender.sent);
      const stored = await waitFor(
        async () => {
          const all = await api.allMessages(room.owner, room.roomId);
          return all.length >= acked.length ? all : null;
        },
        90_000,
        () => `${name} room ${i}: ${acked.length} acknowledged messages stored`,
        250,
      );
      // Stored exactly once, under the acknowledged id and seq: no RECEIPT for a record that is not in the log.
      expect(stored.length, `${name} room ${i} stored`).toBe(acked.length);
      const byId = new Map(stored.map((m: { id: string; seq: string }) => [m.id, m.seq]));
      for (const a of acked) expect(byId.get(a.id), `${name} ${a.key} seq`).toBe(String(a.seq));
      const storedIds = stored.map((m: { id: string }) => m.id);
      for (const r of run.receivers.filter((x) => x.roomId === room.roomId)) {
        await waitFor(
          () => r.deliveries.length >= storedIds.length,
          90_000,
          () => `${name} room ${i}: ${r.deliveries.length}/${storedIds.length} delivered`,
          100,
        );
        // Exactly once, in seq order, the stored order.
        expect(
          r.deliveries.map((d) => d.id),
          `${name} room ${i} deliveries`,
        ).toEqual(storedIds);
        stalls = Math.max(
          stalls,
          longestGap(
            r.deliveries.map((d) => d.at),
            faultAt - 1000,
          ),
        );
        const sentAt = new Map(acked.map((a) => [a.key, a.firstSentAt]));
        for (const d of r.deliveries) {
          const t = sentAt.get(d.key);
          if (t !== undefined && t >= faultAt && t <= healedAt) latencies.push(d.at - t);
        }
      }
    }
    expect(await dltEnd(), `${name}: nothing dead-lettered`).toBe(dltBefore);
    await checkReadCounts(api, run, name);
    extra?.(run, faultAt, healedAt);
    await Promise.all(run.receivers.map((r) => r.close()));

    const recoveryMs = recoveredAfter(run, faultAt);
    const row: FaultRow = {
      fault: name,
      acked: run.senders.reduce((n, s) => n + s.acked.length, 0),
      retried: run.senders.reduce((n, s) => n + s.acked.filter((a) => a.attempts > 1).length, 0),
      stallMs: stalls,
      p99Ms: latencies.length ? percentile(latencies, 99) : 0,
      recoveryMs,
      healMs: healedAt - faultAt,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
    };
    rows.push(row);
    console.log(`[kafka-failover] ${JSON.stringify(row)}`);
  }

  /**
   * After the traffic: a reads to the room's end, b asks for its middle (positions only move forward, so b stays at
   * the furthest it posted while the traffic ran); every count in the API and the store agrees with that.
   */
  async function checkReadCounts(api: Api, run: Run, name: string): Promise<void> {
    for (const room of run.rooms) {
      const all = await api.allMessages(room.owner, room.roomId);
      const last = all[all.length - 1].seq as string;
      const mid = all[Math.floor(all.length / 2)].seq as string;
      const readerOfB = run.readers[run.receivers.findIndex((r) => r.roomId === room.roomId && r.account.id === room.b.id)]!;
      const expectedB = [BigInt(mid), ...readerOfB.posted].reduce((x, y) => (y > x ? y : x)).toString();
      expect((await api.call('POST', `/api/rooms/${room.roomId}/read`, room.a.token, { seq: last })).body.lastReadSeq).toBe(last);
      expect((await api.call('POST', `/api/rooms/${room.roomId}/read`, room.b.token, { seq: mid })).body.lastReadSeq, `${name}: b's position`).toBe(expectedB);
      const unreadOfB = all.filter((m: { seq: string }) => BigInt(m.seq) > BigInt(expectedB)).length;
      await waitFor(
        async () => {
          const rooms = (await api.call('GET', '/api/rooms', room.b.token)).body.rooms as Array<{ id: string; unreadCount: number }>;
          return rooms.find((r) => r.id === room.roomId)?.unreadCount === unreadOfB;
        },
        30_000,
        `${name}: b's unread count ${unreadOfB}`,
        200,
      );
      // The receipts consumer has synced PostgreSQL's positions (what the room detail shows).
      await waitFor(
        async () => {
          const detail = (await api.call('GET', `/api/rooms/${room.roomId}`, room.owner.token)).body as {
            members: Array<{ userId: string; lastReadSeq: string }>;
          };
          return (
            detail.members.find((m) => m.userId === room.a.id)?.lastReadSeq === last &&
            detail.members.find((m) => m.userId === room.b.id)?.lastReadSeq === expectedB
          );
        },
        30_000,
        `${name}: positions of a and b in the room detail`,
        200,
      );
      const history = await api.allMessages(room.owner, room.roomId);
      for (const m of history) expect(m.unreadCount, `${name} seq ${m.seq}`).toBe(BigInt(m.seq) > BigInt(expectedB) ? 1 : 0);
    }
  }

  async function dltEnd(): Promise<string> {
    return withAdmin(brokers, async (admin) => (await admin.fetchTopicOffsets('chat.messages.dlt'))[0]!.high);
  }

  it('the leader of the busiest partitions killed, then restarted', async () => {
    await scenario('leader-kill', async (run) => {
      const leader = await busiestLeader(run.rooms.map((r) => r.roomId));
      await killNode(NODE_OF_PORT.get(leader)!);
      await sleep(8000);
      await restartAndWait(leader);
    });
  }, 400_000);

  it('the group coordinator killed', async () => {
    await scenario('coordinator-kill', async () => {
      const coordinators = Object.values(groupCoordinators(brokers, GROUPS));
      const node = mode(coordinators);
      await killNode(NODE_OF_PORT.get(node)!);
      await sleep(8000);
      await restartAndWait(node);
    });
  }, 400_000);

  it('the active controller killed', async () => {
    await scenario('controller-kill', async () => {
      const node = quorumLeader(brokers);
      await killNode(NODE_OF_PORT.get(node)!);
      await sleep(8000);
      await restartAndWait(node);
    });
  }, 400_000);

  it('a rolling restart of all three nodes', async () => {
    await scenario('rolling-restart', async () => {
      for (const port of PORTS) {
        await stopNode(port, { termWaitMs: 60_000 });
        restartNode(port);
        await fullIsr();
      }
    });
  }, 600_000);

  it('two nodes down at once: nothing new acknowledged until one is back, then traffic resumes by itself', async () => {
    let downAt = 0;
    let upAt = 0;
    await scenario(
      'two-nodes-down',
      async () => {
        const [x, y] = [PORTS[0]!, PORTS[1]!];
        await Promise.all([killNode(x), killNode(y)]);
        downAt = Date.now();
        await sleep(20_000);
        upAt = Date.now();
        restartNode(x);
        await waitFor(
          async () => (await partitionStates(brokers, ['chat.messages'])).every((p) => p.leader >= 0 && p.isr.length >= 2),
          120_000,
          'a quorum and 2 in-sync replicas again',
          500,
        );
        restartNode(y);
        await fullIsr();
      },
      (run) => {
        // min.insync.replicas=2 with one node alive: no record can be acknowledged (acks=all) until a second is back.
        // A retry may still be answered then from a write Kafka committed just before the kill whose answer the kill
        // cut off (the store or the idempotency key already names it): its RECEIPT says duplicate, and its first
        // attempt predates the kill. Anything else acknowledged while down would be a write Kafka took with one replica.
        const ackedWhileDown = run.senders.flatMap((s) => s.acked).filter((a) => a.ackedAt > downAt + 2000 && a.ackedAt < upAt);
        const newWhileDown = ackedWhileDown.filter((a) => !a.duplicate || a.firstSentAt >= downAt);
        console.log(`[kafka-failover] two nodes down: ${ackedWhileDown.length} retries answered from writes committed before the kill`);
        expect(newWhileDown, `acknowledged while two nodes were down (${ackedWhileDown.length} in all)`).toEqual([]);
        // The SENDs waiting then were answered server-unavailable after the append timeout, and retried.
        expect(run.senders.some((s) => s.errors.some((e) => e.includes('server-unavailable')))).toBe(true);
      },
    );
  }, 600_000);

  it('after every fault, SIGTERM still stops both instances gracefully', async () => {
    const t0 = Date.now();
    const codes = await Promise.all(servers.map((s) => s.stop()));
    expect(codes).toEqual([0, 0]);
    console.log(`[kafka-failover] both instances stopped in ${Date.now() - t0} ms`);
  }, 60_000);
});

function mode(values: number[]): number {
  const count = new Map<number, number>();
  for (const v of values) count.set(v, (count.get(v) ?? 0) + 1);
  return [...count].sort((a, b) => b[1] - a[1])[0]![0];
}

/** Longest time between two consecutive deliveries from `from` on. */
function longestGap(times: number[], from: number): number {
  let max = 0;
  for (let i = 1; i < times.length; i++) if (times[i]! >= from) max = Math.max(max, times[i]! - Math.max(from, times[i - 1]!));
  return max;
}

/**
 * Time from the fault until delivery is healthy for good: the first moment after which every message sent was
 * acknowledged within 1 s (the sender's view of the SEND path, which every delivery follows).
 */
function recoveredAfter(run: { senders: PipelinedSender[] }, faultAt: number): number {
  const acked = run.senders.flatMap((s) => s.acked).sort((a, b) => a.firstSentAt - b.firstSentAt);
  let lastSlow = faultAt;
  for (const a of acked) if (a.firstSentAt >= faultAt && a.ackedAt - a.firstSentAt > 1000) lastSlow = a.ackedAt;
  return lastSlow - faultAt;
}
