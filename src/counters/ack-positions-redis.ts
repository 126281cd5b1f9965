// Ack positions in Redis: one key per (user, room), a Lua max so positions never move backwards.
import type { Redis } from 'ioredis';
import type { AckPositions } from './ack-positions.js';
import { defineScript } from './scripts-redis.js';

const keyOf = (userId: string, roomId: string) => `chat:ack:${userId}:${roomId}`;
const TTL_S = 7 * 86_400;

const ADVANCE = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(ARGV[1]) > tonumber(cur) then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
return 1`;

export class RedisAckPositions implements AckPositions {
  private readonly advanceScript;

  constructor(private readonly redis: Pick<Redis, 'defineCommand' | 'get'>) {
    this.advanceScript = defineScript(redis, 'chatAckAdvance', 1, ADVANCE);
  }

  async advance(userId: string, roomId: string, seq: string): Promise<void> {
    await this.advanceScript(keyOf(userId, roomId), seq, TTL_S);
  }

  get(userId: string, roomId: string): Promise<string | null> {
    return this.redis.get(keyOf(userId, roomId));
  }
}
