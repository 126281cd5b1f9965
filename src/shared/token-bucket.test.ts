// Token buckets on a fake clock: burst, refill, debt and the time until it is paid back; BucketMap's bound.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BucketMap, TokenBucket } from './token-bucket.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('TokenBucket', () => {
  it('gives a full burst at once, then one token per 1/rate seconds, never above the burst', () => {
    const b = new TokenBucket(10, 3);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    vi.advanceTimersByTime(99);
    expect(b.take()).toBe(false);
    vi.advanceTimersByTime(1);
    expect(b.take()).toBe(true);
    vi.advanceTimersByTime(60_000);
    expect(b.level()).toBe(1);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
  });

  it('take() takes nothing from an empty bucket; charge() goes into debt and says how long until it is paid back', () => {
    const b = new TokenBucket(10, 2);
    expect(b.charge()).toBe(0);
    expect(b.charge()).toBe(0);
    expect(b.charge()).toBe(100); // one token of debt at 10/s
    expect(b.charge(4)).toBe(500);
    expect(b.level()).toBe(-2.5);
    expect(b.take()).toBe(false);
    vi.advanceTimersByTime(500);
    expect(b.level()).toBe(0);
    expect(b.charge()).toBe(100);
  });
});

describe('BucketMap', () => {
  it('one bucket per key, the same one while it is used', () => {
    const m = new BucketMap(1, 2);
    const a = m.get('a');
    a.charge(2);
    expect(m.get('a')).toBe(a);
    expect(m.get('b').level()).toBe(1);
  });

  it('is bounded: at the bound, idle keys (full again) go first, and with none idle the older half goes', () => {
    const m = new BucketMap(1, 2, 4);
    const buckets = (m as unknown as { buckets: Map<string, unknown> }).buckets;
    for (const k of ['a', 'b', 'c', 'd']) m.get(k);
    vi.advanceTimersByTime(2001); // every bucket idle long enough to be full
    m.get('e');
    expect([...buckets.keys()]).toEqual(['e']);
    for (const k of ['f', 'g', 'h']) m.get(k);
    m.get('i'); // none idle: the oldest half (e, f) is dropped
    expect([...buckets.keys()]).toEqual(['g', 'h', 'i']);
    for (let i = 0; i < 1000; i++) m.get(`k${i}`);
    expect(buckets.size).toBeLessThanOrEqual(4);
  });
});
