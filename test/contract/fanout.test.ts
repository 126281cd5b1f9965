// The fan-out bus contract against the in-process bus and Redis Pub/Sub at REDIS_URL (two bus instances, as two
// server processes would have), on connections made like the app makes them (src/infra/redis.ts).
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, readSetting } from '../../src/config.js';
import { MemoryFanoutBus } from '../../src/fanout/memory.js';
import { RedisFanoutBus } from '../../src/fanout/redis.js';
import { RedisConnections } from '../../src/infra/redis.js';
import type { MessageView } from '../../src/shared/model.js';
import { waitFor } from '../support/cluster.js';
import { fanoutContract } from './fanout.contract.js';
import { testLogger, uniqueRoomId } from './support.js';

const redisUrl = readSetting('REDIS_URL');
const log = testLogger();

fanoutContract('in-process (embedded)', {
  open: async () => {
    const bus = new MemoryFanoutBus();
    return { pub: bus, sub: bus, close: () => bus.close() };
  },
});

// The rooms' last-seq keys have no expiry: removed at the end (the adapter's key name, on purpose).
const rooms = new Set<string>();
afterAll(async () => {
  const redis = new Redis(redisUrl);
  if (rooms.size > 0) await redis.del(...[...rooms].map((r) => `chat:room-last-seq:${r}`));
  await redis.quit();
});

/** A bus on its own publisher and subscriber connections, named `chat:<instanceId>:…` like the app's. */
function redisBus(instanceId = `bus-${randomUUID().slice(0, 8)}`): RedisFanoutBus {
  const connections = new RedisConnections({ ...loadConfig({ MODE: 'cluster', REDIS_URL: redisUrl }), instanceId }, log);
  const bus = new RedisFanoutBus({ publisher: connections.get('publisher'), subscriber: connections.get('subscriber') }, log);
  const publishRoom = bus.publishRoom.bind(bus);
  bus.publishRoom = (roomId, messages) => (rooms.add(roomId), publishRoom(roomId, messages));
  return bus;
}

fanoutContract('Redis Pub/Sub', {
  open: async () => {
    const [pub, sub] = [redisBus(), redisBus()];
    await Promise.all([pub.ping(), sub.ping()]);
    return { pub, sub, close: async () => void (await Promise.all([pub.close(), sub.close()])) };
  },
});

describe('Redis Pub/Sub: a subscriber connection that Redis dropped', () => {
  it('re-subscribes by itself and says so once its subscriptions are active again', async () => {
    const instanceId = `drop-${randomUUID().slice(0, 8)}`;
    const [pub, sub] = [redisBus(), redisBus(instanceId)];
    const admin = new Redis(redisUrl);
    try {
      const room = uniqueRoomId();
      const got: string[] = [];
      let resubscribed = 0;
      sub.onResubscribed(() => resubscribed++);
      await sub.subscribeRoom(room, (b) => got.push(...b.messages.map((m) => m.seq)));
      await pub.publishRoom(room, [view(room, 1)]);
      await waitFor(() => got.length === 1, 5000, 'the first batch');
      // Only this test's own connection, by the name the factory gave it.
      expect(await admin.call('CLIENT', 'KILL', 'ID', await clientId(admin, `chat:${instanceId}:subscriber`))).toBe(1);
      await waitFor(() => resubscribed === 1, 10_000, 'the bus to say it re-subscribed');
      await pub.publishRoom(room, [view(room, 2)]);
      await waitFor(() => got.length === 2, 5000, 'a batch published after the re-subscription');
      expect(got).toEqual(['1', '2']);
    } finally {
      await Promise.all([pub.close(), sub.close(), admin.quit()]);
    }
  });
});

async function clientId(admin: Redis, name: string): Promise<string> {
  const list = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
  const line = list.split('\n').find((l) => l.includes(` name=${name} `));
  if (!line) throw new Error(`no client named ${name}`);
  return /(?:^|\s)id=(\d+)/.exec(line)![1]!;
}

function view(roomId: string, seq: number): MessageView {
  return { id: randomUUID(), roomId, seq: String(seq), senderId: '1', type: 'TEXT', content: `m${seq}`, createdAt: new Date().toISOString(), unreadCount: 0 };
}
