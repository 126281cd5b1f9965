// Lua scripts registered once on a client (ioredis `defineCommand`): each call sends EVALSHA and the script's body
// only when the server does not know it yet (after a restart or SCRIPT FLUSH), instead of the whole body every time.
import type { Redis } from 'ioredis';

/** One script as a function: keys first, then arguments, as the script's KEYS and ARGV. */
export type RedisScript = (...keysThenArgs: Array<string | number>) => Promise<unknown>;

/**
 * Registers `lua` under `name` on the client (idempotent: every adapter sharing a client may call it) and returns
 * the command bound to that client. `numberOfKeys` null: the script takes any number of keys, and each call passes
 * their count first.
 */
export function defineScript(redis: Pick<Redis, 'defineCommand'>, name: string, numberOfKeys: number | null, lua: string): RedisScript {
  redis.defineCommand(name, numberOfKeys === null ? { lua } : { numberOfKeys, lua });
  const command = (redis as unknown as Record<string, RedisScript>)[name]!;
  return (...keysThenArgs) => command.apply(redis, keysThenArgs);
}

/**
 * `call` once per chunk of at most `size` items, every call sent at once (so that one script never holds Redis for
 * long); resolves to the answers in chunk order, and fails if any call fails.
 */
export function perChunk<T, R>(items: readonly T[], size: number, call: (chunk: T[]) => Promise<R>): Promise<R[]> {
  const calls: Array<Promise<R>> = [];
  for (let start = 0; start < items.length; start += size) calls.push(call(items.slice(start, start + size)));
  return Promise.all(calls);
}
