// ReplicaWait on a scripted connection: one WAIT covers every write sent before it, a write sent after an in-flight
// WAIT gets its own, a timeout is reported (not thrown), a failed connection is thrown, and no replicas means no WAIT.
import { describe, expect, it } from 'vitest';
import { ReplicaWait, type ReplicaWaitOutcome } from './replica-wait-redis.js';

/** A connection whose WAIT answers are released by the test, in order. */
function scripted() {
  const waits: Array<{ args: unknown[]; answer(n: number): void; fail(err: Error): void }> = [];
  const redis = {
    call: (...args: unknown[]) =>
      new Promise((resolve, reject) => {
        waits.push({ args, answer: (n) => resolve(n), fail: reject });
      }),
  };
  return { redis: redis as never, waits };
}

describe('ReplicaWait', () => {
  it('writes sent before a WAIT share it; a write sent while it is in flight gets the next one', async () => {
    const { redis, waits } = scripted();
    const outcomes: ReplicaWaitOutcome[] = [];
    const wait = new ReplicaWait(redis, { replicas: 1, timeoutMs: 100, observe: (o) => outcomes.push(o) });
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
  });

  it('waits for nothing when there is no replica to wait for', async () => {
    const { redis, waits } = scripted();
    const wait = new ReplicaWait(redis, { replicas: 0, timeoutMs: 100 });
    expect(await wait.replicated(wait.mark())).toBe(true);
    expect(waits).toHaveLength(0);
  });
});
