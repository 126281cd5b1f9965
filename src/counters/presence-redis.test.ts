// RedisPresence when Redis does not answer some of a pipeline's commands (a failover, a restart): it fails instead of
// taking "no answer" for "offline" — the sweeper would otherwise announce every user OFFLINE during an outage.
import { describe, expect, it } from 'vitest';
import { RedisPresence } from './presence-redis.js';

/**
 * A connection whose pipelines answer every command with `err`, and whose scripts fail with it (as ioredis does for
 * aborted commands).
 */
function unanswering(err: Error) {
  const pipeline = () => {
    const calls: unknown[] = [];
    const p = {
      zcount: () => (calls.push(1), p),
      zadd: () => (calls.push(1), p),
      pexpire: () => (calls.push(1), p),
      exec: async () => calls.map(() => [err, null]),
    };
    return p;
  };
  const client: Record<string, unknown> = { pipeline };
  client.defineCommand = (name: string) => {
    client[name] = () => Promise.reject(err);
  };
  return client as never;
}

describe('RedisPresence without answers', () => {
  const aborted = new Error('Command aborted due to connection close');

  it('onlineUsers fails rather than report everyone offline', async () => {
    await expect(new RedisPresence(unanswering(aborted), 3000).onlineUsers(['1', '2'])).rejects.toThrow(aborted.message);
  });

  it('refresh fails rather than report success, whichever of its batches is not answered', async () => {
    await expect(new RedisPresence(unanswering(aborted), 3000).refresh([['1', 's1']])).rejects.toThrow(aborted.message);
    const many = Array.from({ length: 1000 }, (_, i) => [String(i % 7), `s${i}`] as const);
    await expect(new RedisPresence(unanswering(aborted), 3000).refresh(many)).rejects.toThrow(aborted.message);
  });
});
