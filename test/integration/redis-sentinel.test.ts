// The app's Redis connections (src/infra/redis.ts) against a real Sentinel set (a primary, a replica, three sentinels:
// scripts/stack/redis-sentinel.mjs, started and stopped here) when the primary hangs (SIGSTOP: its connections stay
// open, nothing answers — a frozen VM, a stuck disk). The sentinels fail over; every connection leaves the hung primary
// at the announced switch (nothing else would close them), a command sent to it is sent again to the new primary, the
// fan-out subscriber is back with its subscriptions; once the old primary is back as a replica, writes wait for it.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisNodePid, sentinelPrimary, startRedisSentinel, stopRedisSentinel, waitForHealthySet } from '../../scripts/stack/redis-sentinel.mjs';
import { loadConfig } from '../../src/config.js';
import { ReplicaWait } from '../../src/counters/replica-wait-redis.js';
import { RedisFanoutBus } from '../../src/fanout/redis.js';
import { RedisConnections } from '../../src/infra/redis.js';
import { REDIS_CONNECTIONS } from '../../src/metrics/metrics.js';
import { waitFor } from '../support/cluster.js';
import { TEST_SENTINEL_SET as SET } from '../support/sentinel.js';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

describe('Redis Sentinel: the app connections when the primary hangs', () => {
  let env: { REDIS_SENTINELS: string; REDIS_SENTINEL_NAME: string };
  let connections: RedisConnections;

  beforeAll(async () => {
    ({ env } = await startRedisSentinel({ ...SET, log: (m) => console.log(`[redis-sentinel] ${m}`) }));
    connections = new RedisConnections({ ...loadConfig({ MODE: 'cluster', ...env }), instanceId: `it-${randomUUID().slice(0, 8)}` }, log);
  }, 60_000);

  afterAll(async () => {
    await connections?.close();
    await stopRedisSentinel({ ...SET, log: () => {} });
  });

  it('every connection follows the new primary at once; subscriptions and WAIT work there', async () => {
    const bus = new RedisFanoutBus(
      { publisher: connections.get('publisher'), subscriber: connections.get('subscriber'), replicaWait: connections.replicaWait },
      log,
    );
    const durable = connections.get('durable');
    const waits = new ReplicaWait(durable, { ...connections.replicaWait, pollMs: 200 });
    for (const name of REDIS_CONNECTIONS) await connections.get(name).ping();
    let resubscribed = 0;
    bus.onResubscribed(() => resubscribed++);
    const got: string[] = [];
    const room = String(Date.now());
    await bus.subscribeRoom(room, (b) => got.push(...b.messages.map((m) => m.seq)));
    await durable.set('it:key', 'before');
    expect(await waits.replicated(waits.mark())).toBe(true);

    expect((await sentinelPrimary(SET)).port).toBe(SET.primaryPort);
    const pid = redisNodePid(SET.primaryPort, SET)!;
    process.kill(pid, 'SIGSTOP');
    const t0 = Date.now();
    try {
      // Sent to the hung primary: it must end up on the new one, answered, within the command timeout.
      const during = durable.set('it:key', 'during');
      await waitFor(async () => (await sentinelPrimary(SET)).port === SET.replicaPort, 30_000, 'the replica promoted');
      await waitFor(
        () => REDIS_CONNECTIONS.every((n) => connections.get(n).status === 'ready' && connections.get(n).stream?.remotePort === SET.replicaPort),
        15_000,
        () =>
          `every connection on the new primary while the old one hangs (${REDIS_CONNECTIONS.map((n) => `${n}: ${connections.get(n).status} ${connections.get(n).stream?.remotePort}`).join(', ')})`,
      );
      const movedMs = Date.now() - t0;
      expect(await during).toBe('OK');
      expect(await durable.get('it:key')).toBe('during');
      expect(() => connections.assertReady()).not.toThrow();
      console.log(`[redis-sentinel] primary hung: every connection on the new primary ${movedMs} ms after SIGSTOP`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }

    await waitFor(() => resubscribed >= 1, 10_000, 'the subscriber back with its subscriptions');
    await bus.publishRoom(room, [
      { id: randomUUID(), roomId: room, seq: '1', senderId: '1', type: 'TEXT', content: 'x', createdAt: new Date().toISOString(), unreadCount: 0 },
    ]);
    await waitFor(() => got.length === 1, 10_000, 'a publish on the new primary delivered');

    // The old primary rejoins as the new one's replica: writes wait for it again, and it acknowledges them.
    await waitForHealthySet(60_000, SET);
    await waitFor(async () => ((await durable.call('ROLE')) as [string, unknown, unknown[]])[2].length === 1, 10_000, 'the replica connected');
    await durable.set('it:key', 'replicated');
    await new Promise((r) => setTimeout(r, 300)); // the replica count is polled every 200 ms here
    expect(await waits.replicated(waits.mark())).toBe(true);
    waits.close();
    await bus.close();
  }, 120_000);
});
