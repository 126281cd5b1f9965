// ReplicaWait on a scripted connection: one WAIT covers every write sent before it, a write sent after an in-flight
// WAIT gets its own, a timeout is reported (not thrown), a failed connection is thrown, and no replicas means no WAIT.
import { describe, expect, it } from 'vitest';
import { ReplicaWait, type ReplicaWaitOutcome } from './replica-wait-redis.js';

/** A connection whose WAIT answers are released by the test, in order; ROLE names `replicas` connected replicas. */
function scripted(replicas = 1) {
  const waits: Array<{ args: unknown[]; answer(n: number): void; fail(err: Error): void }> = [];
  const roles = { asked: 0, replicas };
  const redis = {
    call: (...args: unknown[]) => {
      if (args[0] === 'ROLE') {
        roles.asked++;
        return Promise.resolve(['master', 100, Array.from({ length: roles.replicas }, (_, i) => ['127.0.0.1', String(6391 + i), '100'])]);
      }
      return new Promise((resolve, reject) => {
        waits.push({ args, answer: (n) => resolve(n), fail: reject });
      });
    },
  };
  return { redis: redis as never, waits, roles };
}

describe('ReplicaWait', () => {
  it('writes sent before a WAIT share it; a write sent while it is in flight gets the next one', async () => {
    const { redis, waits } = scripted();
    const outcomes: ReplicaWaitOutcome[] = [];
    const wait = new ReplicaWait(redis, { replicas: 1, timeoutMs: 100, observe: (o) => outcomes.push(o), pollMs: 60_000 });
    const [a, b] = [wait.mark(), wait.mark()];
    const pa = wait.replicated(a);
    const pb = wait.replicated(b);
    expect(waits).toHaveLength(1);
    expect(waits[0]!.args).toEqual(['WAIT', 1, 100]);
    const c = wait.mark();
    const pc = wait.replicated(c);
    expect(waits).toHaveLength(2);
    waits[0]!.answer(1);
    expect(await pa).toBe(true);
    expect(await pb).toBe(true);
    waits[1]!.answer(0);
    expect(await pc).toBe(false);
    expect(outcomes).toEqual(['acked', 'timeout']);
    // Nothing in flight any more: the next write waits anew.
    const pd = wait.replicated(wait.mark());
    expect(waits).toHaveLength(3);
    waits[2]!.fail(new Error('Connection is closed.'));
    await expect(pd).rejects.toThrow('Connection is closed.');
    expect(outcomes).toEqual(['acked', 'timeout', 'failed']);
    wait.close();
  });

  it('waits for nothing without replicas: none configured (a single Redis), or none connected (after a failover)', async () => {
    const single = scripted();
    const wait = new ReplicaWait(single.redis, { replicas: 0, timeoutMs: 100 });
    expect(await wait.replicated(wait.mark())).toBe(true);
    expect(single.waits).toHaveLength(0);
    expect(single.roles.asked).toBe(0);

    const set = scripted(0);
    const alone = new ReplicaWait(set.redis, { replicas: 1, timeoutMs: 100, pollMs: 20 });
    try {
      await new Promise((r) => setTimeout(r, 10));
      expect(await alone.replicated(alone.mark())).toBe(true);
      expect(set.waits).toHaveLength(0);
      // The old primary is back as a replica: writes wait again.
      set.roles.replicas = 1;
      await new Promise((r) => setTimeout(r, 60));
      const p = alone.replicated(alone.mark());
      expect(set.waits).toHaveLength(1);
      set.waits[0]!.answer(1);
      expect(await p).toBe(true);
    } finally {
      alone.close();
    }
  });
});
