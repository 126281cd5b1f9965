import { describe, expect, it } from 'vitest';
import { durationSeconds, histogramQuantile } from './alert-rules.js';

describe('histogramQuantile (Prometheus histogram_quantile)', () => {
  const b = (pairs: Array<[number, number]>) => pairs;

  it('interpolates linearly inside the bucket that holds the rank', () => {
    // 100 observations: 50 at or below 0.01, 90 at or below 0.1, all at or below 1.
    const buckets = b([
      [0.01, 50],
      [0.1, 90],
      [1, 100],
      [Infinity, 100],
    ]);
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.01);
    expect(histogramQuantile(0.7, buckets)).toBeCloseTo(0.01 + (0.09 * 20) / 40);
    expect(histogramQuantile(0.99, buckets)).toBeCloseTo(0.1 + (0.9 * 9) / 10);
  });

  it('the lowest bucket interpolates from 0; a rank in +Inf answers the highest finite bound', () => {
    expect(
      histogramQuantile(
        0.5,
        b([
          [0.002, 10],
          [Infinity, 10],
        ]),
      ),
    ).toBeCloseTo(0.001);
    expect(
      histogramQuantile(
        0.99,
        b([
          [0.5, 1],
          [1, 2],
          [Infinity, 100],
        ]),
      ),
    ).toBe(1);
  });

  it('no observations: null', () => {
    expect(
      histogramQuantile(
        0.5,
        b([
          [0.1, 0],
          [Infinity, 0],
        ]),
      ),
    ).toBeNull();
    expect(histogramQuantile(0.5, [])).toBeNull();
  });
});

describe('durationSeconds', () => {
  it('reads PromQL durations and rejects the rest', () => {
    expect([durationSeconds('90s'), durationSeconds('5m'), durationSeconds('1h')]).toEqual([90, 300, 3600]);
    expect(() => durationSeconds('5 minutes')).toThrow(/not a duration/);
  });
});
