// Read positions in Redis: one hash per room (field = user id, value = seq), Lua for atomic max. With a replica
// (Sentinel), a move is acknowledged by the replica before it is answered, so a failover cannot move it back.
import type { Redis } from 'ioredis';
import type { ReadPositions } from './read-positions.js';
import type { ReplicaWait } from './replica-wait-redis.js';
import { defineScript } from './scripts-redis.js';

const keyOf = (roomId: string) => `chat:reads:${roomId}`;
// Marks a room as loaded even when nobody has read anything yet.
const LOADED = '_loaded';

const ADVANCE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or '0'
if tonumber(ARGV[2]) > tonumber(cur) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return {ARGV[2], 1}
end
return {cur, 0}`;

const MERGE = `
redis.call('HSET', KEYS[1], '${LOADED}', '1')
for i = 1, #ARGV, 2 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if (not cur) or tonumber(ARGV[i + 1]) > tonumber(cur) then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 1`;

export class RedisReadPositions implements ReadPositions {
  private readonly advanceScript;
  private readonly mergeScript;

  constructor(
    private readonly redis: Pick<Redis, 'defineCommand' | 'hgetall'>,
    private readonly replica?: ReplicaWait,
  ) {
    this.advanceScript = defineScript(redis, 'chatReadsAdvance', 1, ADVANCE);
    this.mergeScript = defineScript(redis, 'chatReadsMerge', 1, MERGE);
  }

  async advance(roomId: string, userId: string, seq: string) {
    const mark = this.replica?.mark() ?? 0;
    const r = (await this.advanceScript(keyOf(roomId), userId, seq)) as [string, number] | null;
    if (!r) return null;
    const moved = Number(r[1]) === 1;
    if (moved) await this.replica?.replicated(mark);
    return { lastReadSeq: String(r[0]), moved };
  }

  async load(roomId: string, positions: ReadonlyMap<string, string>) {
    const args: string[] = [];
    for (const [u, s] of positions) args.push(u, s);
    await this.mergeScript(keyOf(roomId), ...args);
  }

  async get(roomId: string) {
    const all = await this.redis.hgetall(keyOf(roomId));
    if (!(LOADED in all)) return null;
    delete all[LOADED];
    return new Map(Object.entries(all));
  }
}
