// What an answer means (retry, fail, delivered) and when the next attempt comes.
import { describe, expect, it } from 'vitest';
import { backoffDelay, classify, parseRetryAfter } from './policy.js';

const status = (s: number) => classify({ status: s, error: null, retryAfterMs: null });

describe('classify', () => {
  it('2xx delivers; 5xx, 408 and 429 are retried; other 4xx and 3xx fail at once', () => {
    for (const s of [200, 201, 202, 204, 299]) expect(status(s)).toEqual({ outcome: 'ok', action: 'delivered' });
    for (const s of [500, 502, 503, 504, 599]) expect(status(s)).toEqual({ outcome: 'http_5xx', action: 'retry' });
    for (const s of [408, 429]) expect(status(s)).toEqual({ outcome: 'http_4xx', action: 'retry' });
    for (const s of [400, 401, 403, 404, 410, 413, 422]) expect(status(s)).toEqual({ outcome: 'http_4xx', action: 'fail' });
    for (const s of [301, 302, 307, 308]) expect(status(s)).toEqual({ outcome: 'http_other', action: 'fail' });
  });

  it('a timeout or a connection error is retried', () => {
    expect(classify({ status: null, error: 'timeout', retryAfterMs: null })).toEqual({ outcome: 'timeout', action: 'retry' });
    expect(classify({ status: null, error: 'network', retryAfterMs: null })).toEqual({ outcome: 'network', action: 'retry' });
  });
});

describe('backoffDelay', () => {
  const b = { baseMs: 1000, maxMs: 60_000 };
  it('doubles from the base up to the cap, jittered between half and all of it', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffDelay(a, b, () => 1))).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
    expect([1, 2, 3, 7].map((a) => backoffDelay(a, b, () => 0))).toEqual([500, 1000, 2000, 30_000]);
    expect(backoffDelay(1_000_000, b, () => 0.5)).toBe(45_000); // no overflow on absurd attempt counts
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelay(3, b);
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });

  it('honours a longer Retry-After, up to the cap', () => {
    expect(backoffDelay(1, b, () => 1, 10_000)).toBe(10_000);
    expect(backoffDelay(3, b, () => 1, 100)).toBe(4000);
    expect(backoffDelay(1, b, () => 1, 3_600_000)).toBe(60_000);
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates; anything else is absent', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 5 ', now)).toBe(5000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-5', now)).toBeNull();
  });
});
