// Idempotency keys in Redis: SET NX claims a key; the completed message is stored under it for a day.
import type { Redis } from 'ioredis';
import type { ChatMessage } from '../shared/model.js';
import type { IdempotencyRecord, IdempotencyStore } from './idempotency.js';

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
  constructor(private readonly redis: Pick<Redis, 'set' | 'get' | 'del' | 'eval'>) {}

  async claim(senderId: string, key: string, messageId: string): Promise<IdempotencyRecord | null> {
    const k = keyOf(senderId, key);
    const ok = await this.redis.set(k, `pending:${messageId}`, 'EX', PENDING_TTL_S, 'NX');
    if (ok === 'OK') return null;
    return parse(await this.redis.get(k)) ?? this.claim(senderId, key, messageId);
  }

  async complete(senderId: string, key: string, message: ChatMessage): Promise<void> {
    await this.redis.set(keyOf(senderId, key), `done:${JSON.stringify(message)}`, 'EX', DONE_TTL_S);
  }

  async release(senderId: string, key: string): Promise<void> {
    await this.redis.del(keyOf(senderId, key));
  }

  async renew(senderId: string, key: string, messageId: string): Promise<void> {
    await this.redis.eval(RENEW, 1, keyOf(senderId, key), `pending:${messageId}`, PENDING_TTL_S);
  }
}
