// Presence in Redis: one sorted set per user, member = session id, score = expiry time (ms).
import type { Redis } from 'ioredis';
import type { Presence } from './presence.js';
import { defineScript } from './scripts-redis.js';

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

// Drop expired sessions, remove one, and say whether the user went offline, atomically.
const CLOSE = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local removed = redis.call('ZREM', KEYS[1], ARGV[2])
local after = redis.call('ZCARD', KEYS[1])
if removed == 1 and after == 0 then return 1 else return 0 end`;

/**
 * Sessions opened in one turn of the event loop share one script call. A reconnect storm of thousands of CONNECTs
 * then costs a few dozen commands, and a session's open holds two array slots instead of a command with its
 * promise, arguments and reply: measured, those outlived the storm's young-generation GCs and were ~2 KB of old-
 * space garbage per connection. Bounded so that one script never runs long inside Redis.
 */
const OPEN_BATCH_MAX = 256;

interface OpenBatch {
  readonly userIds: string[];
  readonly sessionIds: string[];
  /** The script's answers, one per session, in order. */
  answers: Promise<number[]>;
}

export class RedisPresence implements Presence {
  private readonly openScript;
  private readonly closeScript;
  /** The batch that sessions opened now join (null: none yet this turn). */
  private opening: OpenBatch | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly ttlMs = 30_000,
  ) {
    this.openScript = defineScript(redis, 'chatPresenceOpenBatch', null, OPEN);
    this.closeScript = defineScript(redis, 'chatPresenceClose', 1, CLOSE);
  }

  async sessionOpened(userId: string, sessionId: string): Promise<boolean> {
    let batch = this.opening;
    if (batch === null || batch.userIds.length >= OPEN_BATCH_MAX) {
      const next: OpenBatch = { userIds: [], sessionIds: [], answers: Promise.resolve([]) };
      next.answers = new Promise((resolve) => setImmediate(resolve)).then(() => this.open(next));
      this.opening = batch = next;
    }
    const i = batch.userIds.push(userId) - 1;
    batch.sessionIds.push(sessionId);
    return (await batch.answers)[i] === 1;
  }

  private async open(batch: OpenBatch): Promise<number[]> {
    if (this.opening === batch) this.opening = null;
    const now = Date.now();
    const n = batch.userIds.length;
    return (await this.openScript(n, ...batch.userIds.map(keyOf), now, now + this.ttlMs, this.ttlMs * 2, ...batch.sessionIds)) as number[];
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
