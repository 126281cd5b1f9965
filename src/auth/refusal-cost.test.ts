// The cost of a refused login: throttled answers are padded to a recent real refusal, drawn from a bounded sample.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RefusalCost } from './refusal-cost.js';

beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
afterEach(() => vi.useRealTimers());

async function padded(cost: RefusalCost, alreadyMs = 0): Promise<number> {
  const startedAt = performance.now();
  vi.advanceTimersByTime(alreadyMs);
  let done = false;
  void cost.pad(startedAt).then(() => (done = true));
  let waited = alreadyMs;
  await vi.advanceTimersByTimeAsync(0);
  while (!done) {
    await vi.advanceTimersByTimeAsync(1);
    waited++;
  }
  return waited;
}

describe('RefusalCost', () => {
  it('pads to a recorded refusal, counting the time already spent; unknown until one is recorded', async () => {
    const cost = new RefusalCost(() => 0);
    expect(cost.known).toBe(false);
    cost.record(40);
    expect(cost.known).toBe(true);
    expect(await padded(cost)).toBe(40);
    expect(await padded(cost, 15)).toBe(40);
    expect(await padded(cost, 60)).toBe(60);
  });

  it('draws from the last 16 refusals only (a bounded ring that follows the load)', async () => {
    let pick = 0;
    const cost = new RefusalCost(() => pick);
    for (let i = 0; i < 100; i++) cost.record(1000);
    for (let i = 0; i < 16; i++) cost.record(30);
    for (pick of [0, 0.25, 0.5, 0.99]) expect(await padded(cost)).toBe(30);
  });
});
