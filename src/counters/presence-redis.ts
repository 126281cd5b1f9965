// Presence in Redis: one sorted set per user, member = session id, score = expiry time (ms).
import type { Redis } from 'ioredis';
import type { Presence } from './presence.js';
import { defineScript } from './scripts-redis.js';

const keyOf = (userId: string) => `chat:presence:${userId}`;

// Drop expired sessions, add/remove one, and say whether the online state changed, atomically.
const OPEN = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if before == 0 then return 1 else return 0 end`;

const CLOSE = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local removed = redis.call('ZREM', KEYS[1], ARGV[2])
local after = redis.call('ZCARD', KEYS[1])
if removed == 1 and after == 0 then return 1 else return 0 end`;

export class RedisPresence implements Presence {
  private readonly openScript;
  private readonly closeScript;

  constructor(
    private readonly redis: Redis,
    private readonly ttlMs = 30_000,
  ) {
    this.openScript = defineScript(redis, 'chatPresenceOpen', 1, OPEN);
    this.closeScript = defineScript(redis, 'chatPresenceClose', 1, CLOSE);
  }

  async sessionOpened(userId: string, sessionId: string): Promise<boolean> {
    const now = Date.now();
    const r = await this.openScript(keyOf(userId), now, sessionId, now + this.ttlMs, this.ttlMs * 2);
    return r === 1;
  }

  async sessionClosed(userId: string, sessionId: string): Promise<boolean> {
    const r = await this.closeScript(keyOf(userId), Date.now(), sessionId);
    return r === 1;
  }

  async refresh(sessions: ReadonlyArray<readonly [string, string]>): Promise<void> {
    if (sessions.length === 0) return;
    const expiry = Date.now() + this.ttlMs;
    const pipe = this.redis.pipeline();
    for (const [userId, sessionId] of sessions) {
      pipe.zadd(keyOf(userId), expiry, sessionId);
      pipe.pexpire(keyOf(userId), this.ttlMs * 2);
    }
    const failed = ((await pipe.exec()) ?? []).find(([err]) => err);
    if (failed) throw failed[0];
  }

  async onlineUsers(userIds: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    if (userIds.length === 0) return out;
    const now = Date.now();
    const pipe = this.redis.pipeline();
    for (const id of userIds) pipe.zcount(keyOf(id), `(${now}`, '+inf');
    const res = (await pipe.exec()) ?? [];
    res.forEach(([err, n], i) => {
      // An unanswered count is not "offline": the sweeper would announce everyone OFFLINE during a failover.
      if (err) throw err;
      if (Number(n) > 0) out.add(userIds[i]!);
    });
    return out;
  }
}
