// The counters' contracts against the in-memory adapters (embedded mode) and Redis at REDIS_URL.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryAckPositions } from '../../src/counters/ack-positions-memory.js';
import { RedisAckPositions } from '../../src/counters/ack-positions-redis.js';
import { MemoryIdempotencyStore } from '../../src/counters/idempotency-memory.js';
import { RedisIdempotencyStore } from '../../src/counters/idempotency-redis.js';
import { MemoryLeases } from '../../src/counters/leases-memory.js';
import { RedisLeases } from '../../src/counters/leases-redis.js';
import { MemoryPresence } from '../../src/counters/presence-memory.js';
import { RedisPresence } from '../../src/counters/presence-redis.js';
import { MemoryRateWindows } from '../../src/counters/rate-windows-memory.js';
import { RedisRateWindows } from '../../src/counters/rate-windows-redis.js';
import { MemoryReadPositions } from '../../src/counters/read-positions-memory.js';
import { RedisReadPositions } from '../../src/counters/read-positions-redis.js';
import {
  ackPositionsContract,
  idempotencyContract,
  leasesContract,
  presenceContract,
  rateWindowsContract,
  readPositionsContract,
} from './counters.contract.js';
import { waitFor } from '../support/cluster.js';
import { uniqueName, uniqueRoomId } from './support.js';
import { readSetting } from '../../src/config.js';

// --- in memory -------------------------------------------------------------------------------------------------

readPositionsContract('memory', () => {
  const positions = new MemoryReadPositions();
  // One room cannot be forgotten alone (the memory adapter loses rooms by LRU or all at once, like a restart).
  return { positions, lose: async () => positions.clear() };
});
presenceContract('memory', (ttlMs) => new MemoryPresence(ttlMs));
ackPositionsContract('memory', () => new MemoryAckPositions());
idempotencyContract('memory', () => {
  // A clock the test can move: a pending claim lives 30 s.
  let skew = 0;
  const store = new MemoryIdempotencyStore({ now: () => Date.now() + skew });
  return { store, expirePending: async () => void (skew += 30_001), age: async (_s, _k, ms) => void (skew += ms) };
});
leasesContract('memory', () => new MemoryLeases());
rateWindowsContract('memory', () => new MemoryRateWindows());

// --- Redis -----------------------------------------------------------------------------------------------------

const redis = new Redis(readSetting('REDIS_URL'), { maxRetriesPerRequest: 2 });
afterAll(() => redis.quit());

readPositionsContract('Redis', () => ({
  positions: new RedisReadPositions(redis),
  // A Redis restart loses every key; here only the test's room (the adapter's key name, on purpose).
  lose: async (roomId) => void (await redis.del(`chat:reads:${roomId}`)),
}));
presenceContract('Redis', (ttlMs) => new RedisPresence(redis, ttlMs));
ackPositionsContract('Redis', () => new RedisAckPositions(redis));
idempotencyContract('Redis', () => ({
  store: new RedisIdempotencyStore(redis),
  // The adapter's pending lifetime is 30 s: shorten this key's remaining life instead of waiting it out.
  expirePending: async (senderId, key) => {
    const k = `chat:idem:${senderId}:${key}`;
    await redis.pexpire(k, 1);
    await waitFor(async () => (await redis.exists(k)) === 0, 2000, 'the pending claim to expire');
  },
  // Time cannot be moved in Redis: a claim aged by `ms` has 30 s − ms left; past 30 s, its last moments run out.
  age: async (senderId, key, ms) => {
    const k = `chat:idem:${senderId}:${key}`;
    const left = await redis.pttl(k);
    if (left < 0) return;
    if (left > ms) await redis.pexpire(k, left - ms);
    else {
      await redis.pexpire(k, 1);
      await waitFor(async () => (await redis.exists(k)) === 0, 2000, 'the pending claim to expire');
    }
  },
}));
leasesContract('Redis', () => new RedisLeases(redis));
rateWindowsContract('Redis', () => new RedisRateWindows(redis));

// --- Redis scripts are sent once -------------------------------------------------------------------------------

describe('Redis counters: Lua scripts registered once (defineCommand)', () => {
  it('after the first call of each script, every call sends EVALSHA (the hash), never the script body again', async () => {
    // A client of its own so the commands seen are this test's: ioredis hands every command to sendCommand.
    const client = new Redis(readSetting('REDIS_URL'), { maxRetriesPerRequest: 2 });
    try {
      const seen: string[] = [];
      const send = client.sendCommand.bind(client);
      client.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
        seen.push(command.name);
        return (send as (...a: unknown[]) => unknown)(command, ...rest);
      }) as typeof client.sendCommand;
      const room = uniqueRoomId();
      const user = uniqueName('u');
      const positions = new RedisReadPositions(client);
      const presence = new RedisPresence(client, 10_000);
      const acks = new RedisAckPositions(client);
      const rates = new RedisRateWindows(client);
      const round = async (i: number) => {
        await positions.load(room, new Map([[user, '1']]));
        await positions.advance(room, user, String(i + 2));
        await presence.sessionOpened(user, `s${i}`);
        await presence.sessionClosed(user, `s${i}`);
        await acks.advance(user, room, String(i + 1));
        await rates.add(`t:${user}`, 1, 60_000);
        await rates.chargeBucket(`t:${user}`, 1, 10, 100);
      };
      await round(0); // the first call may fall back to EVAL once per script (NOSCRIPT on a fresh server)
      seen.length = 0;
      for (let i = 1; i <= 5; i++) await round(i);
      expect(seen.filter((c) => c === 'eval')).toEqual([]);
      expect(seen.filter((c) => c === 'evalsha')).toHaveLength(35);
      expect(await positions.get(room)).toEqual(new Map([[user, '7']]));
      await client.del(`chat:reads:${room}`, `chat:presence:${user}`, `chat:ack:${user}:${room}`, `chat:bucket:t:${user}`);
    } finally {
      await client.quit();
    }
  });
});
