// The corrected kafkajs fetcher: a fetch that answers nothing without waiting (a stopped runner, a dropped broker
// connection) no longer spins the loop on microtasks — timers and sockets keep running — and stop() still ends it.
import { describe, expect, it } from 'vitest';
import { createFetcher } from './kafkajs-fetcher.js';

const quiet = { namespace: () => ({ info() {} }) };

describe('kafkajs fetcher, corrected', () => {
  it('an instant empty fetch yields to the event loop: a timer fires, and the loop polls at most every 100 ms', async () => {
    let fetches = 0;
    const f = createFetcher({
      nodeId: 1,
      workerQueue: { push: async () => {} },
      partitionAssignments: new Map(),
      fetch: async () => (fetches++, []),
      logger: quiet,
    });
    const running = f.start();
    // With the original loop this timer would never fire: the process stays in the microtask queue.
    expect(await new Promise((r) => setTimeout(() => r('timer ran'), 20))).toBe('timer ran');
    await new Promise((r) => setTimeout(r, 500));
    expect(fetches).toBeGreaterThan(1);
    expect(fetches).toBeLessThanOrEqual(8);
    await f.stop();
    await running;
  });

  it('batches go to the worker queue; a partition another fetcher holds is skipped', async () => {
    const pushed: unknown[] = [];
    const assignments = new Map([['t|1', 2]]);
    let n = 0;
    const f = createFetcher({
      nodeId: 1,
      workerQueue: { push: async (...b) => void pushed.push(...b) },
      partitionAssignments: assignments,
      fetch: async () =>
        n++ === 0
          ? [
              { topic: 't', partition: 0 },
              { topic: 't', partition: 1 },
            ]
          : [],
      logger: quiet,
    });
    const running = f.start();
    await new Promise((r) => setTimeout(r, 50));
    await f.stop();
    await running;
    expect(pushed).toEqual([{ topic: 't', partition: 0 }]);
    expect(assignments.get('t|0')).toBeUndefined(); // released after the worker took it
  });

  it('a failing fetch ends the loop with its error (kafkajs rebalances the fetchers on it)', async () => {
    const f = createFetcher({
      nodeId: 1,
      workerQueue: { push: async () => {} },
      partitionAssignments: new Map(),
      fetch: async () => {
        throw new Error('rebalance');
      },
      logger: quiet,
    });
    await expect(f.start()).rejects.toThrow('rebalance');
    await f.stop(); // already stopped: returns at once
  });
});
