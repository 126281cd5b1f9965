// Idempotency keys in memory (embedded mode): the same states and lifetimes as the Redis adapter — a claim is
// pending for 30 s unless completed, a completed key is remembered for a day.
import type { ChatMessage } from '../shared/model.js';
import type { IdempotencyRecord, IdempotencyStore } from './idempotency.js';
import { TtlMap, type Clock } from './ttl-map-memory.js';

export interface MemoryIdempotencyOptions {
  pendingTtlMs?: number;
  doneTtlMs?: number;
  /** Bound on remembered keys; past it the oldest go first (the store's unique key stays the backstop). */
  maxEntries?: number;
  now?: Clock;
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  // Values are serialised as in Redis, so a caller never shares an object with the cache.
  private readonly keys: TtlMap<string>;
  private readonly pendingTtlMs: number;
  private readonly doneTtlMs: number;

  constructor(options: MemoryIdempotencyOptions = {}) {
    this.keys = new TtlMap(options.maxEntries ?? 200_000, options.now);
    this.pendingTtlMs = options.pendingTtlMs ?? 30_000;
    this.doneTtlMs = options.doneTtlMs ?? 86_400_000;
  }

  async claim(senderId: string, key: string, messageId: string): Promise<IdempotencyRecord | null> {
    const k = `${senderId}:${key}`;
    const raw = this.keys.get(k);
    if (raw === undefined) {
      this.keys.set(k, JSON.stringify({ state: 'pending', messageId }), this.pendingTtlMs);
      return null;
    }
    const record = JSON.parse(raw) as IdempotencyRecord;
    // The same claim again (the port's rule for a resend) owns the key, as in Redis.
    return record.state === 'pending' && record.messageId === messageId ? null : record;
  }

  async complete(senderId: string, key: string, message: ChatMessage): Promise<void> {
    this.keys.set(`${senderId}:${key}`, JSON.stringify({ state: 'done', message }), this.doneTtlMs);
  }

  async release(senderId: string, key: string): Promise<void> {
    this.keys.delete(`${senderId}:${key}`);
  }

  async renew(senderId: string, key: string, messageId: string): Promise<void> {
    const k = `${senderId}:${key}`;
    const raw = this.keys.get(k);
    if (raw === undefined) return;
    const record = JSON.parse(raw) as IdempotencyRecord;
    if (record.state === 'pending' && record.messageId === messageId) this.keys.set(k, raw, this.pendingTtlMs);
  }
}
