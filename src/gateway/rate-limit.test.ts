// UserSendLimiter on a fake clock with the in-memory rate windows: the instant local answer, and the shared bucket
// that limits a user's sends over every instance (synced every 200 ms).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryRateWindows } from '../counters/rate-windows-memory.js';
import { UserSendLimiter } from './rate-limit.js';

const limiters: UserSendLimiter[] = [];
function limiter(rates: ConstructorParameters<typeof UserSendLimiter>[0], perSecond: number, burst: number) {
  const l = new UserSendLimiter(rates, perSecond, burst);
  limiters.push(l);
  return l;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date', 'performance', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  for (const l of limiters.splice(0)) l.close();
  vi.useRealTimers();
});

describe('UserSendLimiter', () => {
  it('answers from the local bucket at once: the burst, then the wait until the next send (per user)', () => {
    const l = limiter(new MemoryRateWindows(), 10, 3);
    expect([l.charge('u'), l.charge('u'), l.charge('u'), l.charge('u')]).toEqual([0, 0, 0, 100]);
    expect(l.charge('v')).toBe(0);
  });

  it('tryTake refuses over the budget and then takes nothing (REST answers 429 without spending)', () => {
    const l = limiter(new MemoryRateWindows(), 10, 2);
    expect([l.tryTake('u'), l.tryTake('u'), l.tryTake('u'), l.tryTake('u')]).toEqual([true, true, false, false]);
    vi.advanceTimersByTime(100);
    expect(l.tryTake('u')).toBe(true);
  });

  it("two instances share the user's bucket: sends within each one's own burst put the user in debt on both", async () => {
    const shared = new MemoryRateWindows();
    const a = limiter(shared, 10, 5);
    const b = limiter(shared, 10, 5);
    for (let i = 0; i < 5; i++) expect([a.charge('u'), b.charge('u')]).toEqual([0, 0]);
    // a syncs its 5 sends (the shared bucket of 5 is empty), then b its 5 (5 in debt: b is blocked for 500 ms).
    await vi.advanceTimersByTimeAsync(200);
    expect(b.tryTake('u')).toBe(false);
    expect(b.charge('u')).toBeGreaterThanOrEqual(300);
    // a's own bucket refilled 2 tokens meanwhile, but its next sync finds the shared debt: a is blocked too.
    expect(a.tryTake('u')).toBe(true);
    await vi.advanceTimersByTimeAsync(200);
    expect(a.tryTake('u')).toBe(false);
    expect(a.charge('u')).toBeGreaterThan(0);
    expect(a.tryTake('other')).toBe(true);
  });

  it('a shared bucket that is unavailable leaves the local limit alone in charge', async () => {
    const l = limiter({ chargeBucket: async () => Promise.reject(new Error('redis down')) }, 10, 2);
    expect([l.charge('u'), l.charge('u')]).toEqual([0, 0]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(l.tryTake('u')).toBe(true);
  });
});
