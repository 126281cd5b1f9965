// Where a client-ack subscriber has acknowledged up to, per (user, room): a resuming session with
// `ack: client` / `client-individual` restarts after it, so unacknowledged MESSAGEs are redelivered.
import type { Redis } from 'ioredis';

const keyOf = (userId: string, roomId: string) => `chat:ack:${userId}:${roomId}`;
const TTL_S = 7 * 86_400;

// Forward only, atomically.
const ADVANCE = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(ARGV[1]) > tonumber(cur) then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
return 1`;

export interface AckPositions {
  advance(userId: string, roomId: string, seq: string): Promise<void>;
  get(userId: string, roomId: string): Promise<string | null>;
}

export class RedisAckPositions implements AckPositions {
  constructor(private readonly redis: Redis) {}

  async advance(userId: string, roomId: string, seq: string): Promise<void> {
    await this.redis.eval(ADVANCE, 1, keyOf(userId, roomId), seq, TTL_S);
  }

  get(userId: string, roomId: string): Promise<string | null> {
    return this.redis.get(keyOf(userId, roomId));
  }
}
