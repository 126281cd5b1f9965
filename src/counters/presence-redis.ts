// Presence in Redis: one sorted set per user, member = session id, score = expiry time (ms).
import type { Redis } from 'ioredis';
import type { Presence } from './presence.js';
import { TurnBatch } from '../shared/turn-batch.js';
import { defineScript, perChunk } from './scripts-redis.js';

const keyOf = (userId: string) => `chat:presence:${userId}`;

// Opens a batch of sessions, KEYS[i] getting ARGV[3 + i], in call order: drop the user's expired sessions, add one,
// and say whether the user went online, atomically per user. Two sessions of one user in a batch: only the first
// says 1.
const OPEN = `
local now = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local before = redis.call('ZCARD', key)
  redis.call('ZADD', key, ARGV[2], ARGV[3 + i])
  redis.call('PEXPIRE', key, ARGV[3])
  out[i] = before == 0 and 1 or 0
end
return out`;

// Extends a batch of live sessions, KEYS[i] getting ARGV[2 + i] (registered again if Redis lost it or let it expire).
const REFRESH = `
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, ARGV[1], ARGV[2 + i])
  redis.call('PEXPIRE', key, ARGV[2])
end
return #KEYS`;

// How many unexpired sessions each of KEYS has (ARGV[1]: now).
const ONLINE = `
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('ZCOUNT', key, '(' .. ARGV[1], '+inf')
end
return out`;

// Drop expired sessions, remove one, and say whether the user went offline, atomically.
const CLOSE = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local removed = redis.call('ZREM', KEYS[1], ARGV[2])
local after = redis.call('ZCARD', KEYS[1])
if removed == 1 and after == 0 then return 1 else return 0 end`;

/**
 * Sessions are opened and refreshed in batches, one script call each: a session then costs a few array slots
 * instead of an ioredis command with its promise, arguments and reply. Measured (V8's sampling heap profile with
 * and without the objects major GCs collected), those commands outlived the young-generation GCs and became old-
 * space garbage: ~2 KB per connection in a 20,000-connection storm of CONNECTs, and ~7 KB per connection at every
 * refresh of an idle instance (ZADD + PEXPIRE per session, every ttl/3). At most this many sessions per call, so
 * that one script never holds Redis for long.
 */
const SCRIPT_BATCH_MAX = 256;

export class RedisPresence implements Presence {
  private readonly openScript;
  private readonly closeScript;
  private readonly refreshScript;
  private readonly onlineScript;
  /** The sessions opened in one turn share a script call: its answers, one per session, in order. */
  private readonly opening = new TurnBatch<readonly [string, string], number[]>((sessions) => this.open(sessions), SCRIPT_BATCH_MAX);

  constructor(
    redis: Redis,
    private readonly ttlMs = 30_000,
  ) {
    this.openScript = defineScript(redis, 'chatPresenceOpenBatch', null, OPEN);
    this.closeScript = defineScript(redis, 'chatPresenceClose', 1, CLOSE);
    this.refreshScript = defineScript(redis, 'chatPresenceRefreshBatch', null, REFRESH);
    this.onlineScript = defineScript(redis, 'chatPresenceOnlineBatch', null, ONLINE);
  }

  async sessionOpened(userId: string, sessionId: string): Promise<boolean> {
    const { index, result } = this.opening.join([userId, sessionId]);
    return (await result)[index] === 1;
  }

  private async open(sessions: ReadonlyArray<readonly [string, string]>): Promise<number[]> {
    const now = Date.now();
    const keys = sessions.map(([userId]) => keyOf(userId));
    return (await this.openScript(keys.length, ...keys, now, now + this.ttlMs, this.ttlMs * 2, ...sessions.map(([, sessionId]) => sessionId))) as number[];
  }

  async sessionClosed(userId: string, sessionId: string): Promise<boolean> {
    const r = await this.closeScript(keyOf(userId), Date.now(), sessionId);
    return r === 1;
  }

  async refresh(sessions: ReadonlyArray<readonly [string, string]>): Promise<void> {
    if (sessions.length === 0) return;
    const expiry = Date.now() + this.ttlMs;
    // A batch Redis did not answer fails the refresh (the caller logs it and tries again at the next one).
    await perChunk(sessions, SCRIPT_BATCH_MAX, (batch) => {
      const keys = batch.map(([userId]) => keyOf(userId));
      return this.refreshScript(keys.length, ...keys, expiry, this.ttlMs * 2, ...batch.map(([, sessionId]) => sessionId));
    });
  }

  async onlineUsers(userIds: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    const now = Date.now();
    // One script call per 256 users (the notify group asks for every member of a batch's rooms at once).
    // An unanswered count is not "offline": the sweeper would announce everyone OFFLINE during a failover.
    await perChunk(userIds, SCRIPT_BATCH_MAX, async (batch) => {
      const counts = (await this.onlineScript(batch.length, ...batch.map(keyOf), now)) as number[];
      counts.forEach((n, i) => n > 0 && out.add(batch[i]!));
    });
    return out;
  }
}
