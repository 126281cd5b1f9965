// The fan-out bus contract against the in-process bus and Redis Pub/Sub at REDIS_URL (two bus instances, as two
// server processes would have).
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { MemoryFanoutBus } from '../../src/fanout/memory.js';
import { RedisFanoutBus } from '../../src/fanout/redis.js';
import { fanoutContract } from './fanout.contract.js';
import { testLogger } from './support.js';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
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

fanoutContract('Redis Pub/Sub', {
  open: async () => {
    const pub = new RedisFanoutBus(redisUrl, log);
    const publishRoom = pub.publishRoom.bind(pub);
    pub.publishRoom = (roomId, messages) => (rooms.add(roomId), publishRoom(roomId, messages));
    const sub = new RedisFanoutBus(redisUrl, log);
    await Promise.all([pub.ping(), sub.ping()]);
    return { pub, sub, close: async () => void (await Promise.all([pub.close(), sub.close()])) };
  },
});
