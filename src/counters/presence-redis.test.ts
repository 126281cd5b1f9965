// RedisPresence when Redis does not answer some of a pipeline's commands (a failover, a restart): it fails instead of
// taking "no answer" for "offline" — the sweeper would otherwise announce every user OFFLINE during an outage. And
// the bound of its batches: no script call carries more than 256 sessions (or users).
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

/** A connection whose scripts record how many keys each call carried and answer as Redis would for new sessions. */
function recording() {
  const calls: Array<{ script: string; keys: number }> = [];
  const client: Record<string, unknown> = {};
  client.defineCommand = (name: string) => {
    client[name] = (keys: number) => {
      calls.push({ script: name, keys });
      // Opens: each user went online. Online counts: every other user has a session.
      if (name === 'chatPresenceOpenBatch') return Promise.resolve(Array.from({ length: keys }, () => 1));
      if (name === 'chatPresenceOnlineBatch') return Promise.resolve(Array.from({ length: keys }, (_, i) => i % 2));
      return Promise.resolve(keys);
    };
  };
  return { client: client as never, calls };
}

describe('RedisPresence batches', () => {
  it('sends at most 256 sessions per script call, opens of one turn together, refreshes in order', async () => {
    const { client, calls } = recording();
    const presence = new RedisPresence(client, 3000);
    const opened = await Promise.all(Array.from({ length: 600 }, (_, i) => presence.sessionOpened(`u${i}`, `s${i}`)));
    expect(opened.every(Boolean)).toBe(true);
    expect(calls).toEqual([256, 256, 88].map((keys) => ({ script: 'chatPresenceOpenBatch', keys })));
    // A later turn starts a batch of its own.
    expect(await presence.sessionOpened('late', 's-late')).toBe(true);
    expect(calls.at(-1)).toEqual({ script: 'chatPresenceOpenBatch', keys: 1 });
    calls.length = 0;
    await presence.refresh(Array.from({ length: 1000 }, (_, i) => [`u${i}`, `s${i}`] as const));
    expect(calls).toEqual([256, 256, 256, 232].map((keys) => ({ script: 'chatPresenceRefreshBatch', keys })));
    calls.length = 0;
    const users = Array.from({ length: 600 }, (_, i) => `u${i}`);
    const online = await presence.onlineUsers(users);
    expect(calls).toEqual([256, 256, 88].map((keys) => ({ script: 'chatPresenceOnlineBatch', keys })));
    // Each answer is matched to its own batch's users.
    expect([...online].sort()).toEqual(users.filter((_, i) => (i % 256) % 2 === 1).sort());
    calls.length = 0;
    expect(await presence.onlineUsers([])).toEqual(new Set());
    expect(calls).toEqual([]);
  });
});
