// The Redis connection factory: REDIS_URL (host, port, database, password) in plain mode, the sentinels and the
// primary's name with REDIS_SENTINELS (which wins), and the outage policy every connection gets.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { RedisConnections, redisOptions } from './redis.js';

const log = pino({ level: 'silent' });
// Nothing listens there (a port of this project's reserved range): the clients only try to connect.
const settings = (env: Record<string, string>) => ({ ...loadConfig({ MODE: 'cluster', ...env }), instanceId: 'unit' });
let open: RedisConnections | null = null;

afterEach(async () => {
  await open?.close();
  open = null;
});

describe('RedisConnections', () => {
  it('connects where REDIS_URL says (host, port, database, password)', () => {
    open = new RedisConnections(settings({ REDIS_URL: 'redis://:s3cret@127.0.0.1:6399/3' }), log);
    const o = open.get('commands').options;
    expect([o.host, o.port, o.db, o.password]).toEqual(['127.0.0.1', 6399, 3, 's3cret']);
    expect(open.describe()).toBe('Redis redis://:***@127.0.0.1:6399/3');
    expect(open.replicaWait.replicas).toBe(0);
  });

  it('asks the sentinels for the primary when REDIS_SENTINELS is set, whatever REDIS_URL says', () => {
    open = new RedisConnections(settings({ REDIS_URL: 'redis://127.0.0.1:6398', REDIS_SENTINELS: '127.0.0.1:26399', REDIS_SENTINEL_NAME: 'ha' }), log);
    const o = open.get('publisher').options;
    expect(o.sentinels).toEqual([{ host: '127.0.0.1', port: 26399 }]);
    expect([o.name, o.role, o.failoverDetector]).toEqual(['ha', 'master', false]);
    expect(open.describe()).toBe('Redis Sentinel "ha" via 127.0.0.1:26399');
    expect(open.replicaWait).toEqual({ replicas: 1, timeoutMs: 100 });
    expect(() => open!.assertReady()).toThrow(/publisher/);
  });

  it('every connection waits through an outage for REDIS_COMMAND_TIMEOUT_MS and reconnects on READONLY', () => {
    const s = settings({ REDIS_COMMAND_TIMEOUT_MS: '4000' });
    for (const name of ['commands', 'durable', 'publisher', 'subscriber'] as const) {
      const o = redisOptions(s, name);
      expect(o.commandTimeout, name).toBe(4000);
      expect(o.reconnectOnError!(new Error("READONLY You can't write against a read only replica."))).toBe(2);
      expect(o.reconnectOnError!(new Error('ERR wrong number of arguments'))).toBe(false);
      expect(o.connectionName).toBe(`chat:unit:${name}`);
    }
    // Queued commands are dropped unsent after about the timeout (retries every ≤ 0.5 s); the subscriber's are kept.
    expect(redisOptions(s, 'commands').maxRetriesPerRequest).toBe(18);
    expect(redisOptions(s, 'subscriber').maxRetriesPerRequest).toBeNull();
    expect(redisOptions(s, 'commands').retryStrategy!(1)).toBe(50);
    expect(redisOptions(s, 'commands').retryStrategy!(100)).toBe(500);
  });
});
