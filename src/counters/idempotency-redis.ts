// Idempotency keys in Redis: SET NX claims a key; the completed message is stored under it for a day. With a
// replica (Sentinel), a claim is acknowledged by the replica before the send goes on, so a failover cannot forget a
// key whose message is being appended (the retry would append it a second time before the store knew the first).
import type { Redis } from 'ioredis';
import type { ChatMessage } from '../shared/model.js';
import type { IdempotencyRecord, IdempotencyStore } from './idempotency.js';
import type { ReplicaWait } from './replica-wait-redis.js';
import { defineScript } from './scripts-redis.js';

const PENDING_TTL_S = 30; // a send that crashed mid-way frees its key after this
const DONE_TTL_S = 86_400;

const keyOf = (senderId: string, key: string) => `chat:idem:${senderId}:${key}`;

// Only this very claim gets its lifetime back: a done key or another sender's claim is not touched.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 0`;

function parse(raw: string | null): IdempotencyRecord | null {
  if (raw === null) return null;
  if (raw.startsWith('pending:')) return { state: 'pending', messageId: raw.slice(8) };
  return { state: 'done', message: JSON.parse(raw.slice(5)) as ChatMessage };
}

export class RedisIdempotencyStore implements IdempotencyStore {
  private readonly renewScript;

  constructor(
    private readonly redis: Pick<Redis, 'set' | 'get' | 'del' | 'defineCommand'>,
    private readonly replica?: ReplicaWait,
  ) {
    this.renewScript = defineScript(redis, 'chatIdempotencyRenew', 1, RENEW);
  }

  async claim(senderId: string, key: string, messageId: string): Promise<IdempotencyRecord | null> {
    const k = keyOf(senderId, key);
    const mark = this.replica?.mark() ?? 0;
    const ok = await this.redis.set(k, `pending:${messageId}`, 'EX', PENDING_TTL_S, 'NX');
    const existing = ok === 'OK' ? null : parse(await this.redis.get(k));
    // ioredis sends a command again after a reconnect when its answer was lost: the claim then finds itself.
    const owned = ok === 'OK' || (existing?.state === 'pending' && existing.messageId === messageId);
    if (!owned) return existing ?? this.claim(senderId, key, messageId);
    try {
      await this.replica?.replicated(mark);
    } catch (err) {
      // Whether the claim survived the failover is unknown: free it (best effort) and let the send fail.
      await this.redis.del(k).catch(() => {});
      throw err;
    }
    return null;
  }

  async complete(senderId: string, key: string, message: ChatMessage): Promise<void> {
    await this.redis.set(keyOf(senderId, key), `done:${JSON.stringify(message)}`, 'EX', DONE_TTL_S);
  }

  async release(senderId: string, key: string): Promise<void> {
    await this.redis.del(keyOf(senderId, key));
  }

  async renew(senderId: string, key: string, messageId: string): Promise<void> {
    await this.renewScript(keyOf(senderId, key), `pending:${messageId}`, PENDING_TTL_S);
  }
}
