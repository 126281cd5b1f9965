// Rate windows in Redis: INCRBY on a key per window, expiring with the window.
import type { Redis } from 'ioredis';
import { windowStart, type RateWindows } from './rate-windows.js';
import { defineScript } from './scripts-redis.js';

const ADD = `
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if v == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v`;

// KEYS: bucket. ARGV: n, perSecond, burst, now (ms). Hash {t = tokens, at = last refill ms}.
const CHARGE = `
local b = redis.call('HMGET', KEYS[1], 't', 'at')
local rate, burst, now = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
t = math.min(burst, t + math.max(0, now - at) * rate / 1000) - tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 't', tostring(t), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - math.min(t, 0) + 1) / rate * 1000) + 1000)
return tostring(t)`;

export class RedisRateWindows implements RateWindows {
  private readonly addScript;
  private readonly chargeScript;

  constructor(redis: Pick<Redis, 'defineCommand'>) {
    this.addScript = defineScript(redis, 'chatRateAdd', 1, ADD);
    this.chargeScript = defineScript(redis, 'chatRateCharge', 1, CHARGE);
  }

  async add(key: string, n: number, windowMs: number): Promise<number> {
    const start = windowStart(Date.now(), windowMs);
    return Number(await this.addScript(`chat:rate:${key}:${start}`, n, windowMs * 2));
  }

  async chargeBucket(key: string, n: number, perSecond: number, burst: number): Promise<number> {
    return Number(await this.chargeScript(`chat:bucket:${key}`, n, perSecond, burst, Date.now()));
  }
}
