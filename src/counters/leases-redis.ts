// Leases in Redis: SET NX PX.
import type { Redis } from 'ioredis';
import type { Leases } from './leases.js';

export class RedisLeases implements Leases {
  constructor(private readonly redis: Pick<Redis, 'set'>) {}

  async acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(`chat:lease:${name}`, holder, 'PX', ttlMs, 'NX')) === 'OK';
  }
}
