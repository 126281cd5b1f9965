// Percentiles and latency summaries for tests and benchmarks (bench/lib.ts re-exports them): one nearest-rank
// definition everywhere.

/** Nearest-rank percentile of an ascending array. */
export function percentileOfSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Nearest-rank percentile of values in any order. */
export function percentile(values: readonly number[], p: number): number {
  return percentileOfSorted(
    [...values].sort((a, b) => a - b),
    p,
  );
}

export interface LatencyStats {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export function latencyStats(xs: readonly number[]): LatencyStats {
  return { count: xs.length, p50: percentile(xs, 50), p99: percentile(xs, 99), max: xs.length ? Math.max(...xs) : NaN };
}

export interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: readonly number[]): Summary {
  const arr = Array.from(Float64Array.from(values).sort());
  let sum = 0;
  for (const v of arr) sum += v;
  return {
    n: arr.length,
    p50: percentileOfSorted(arr, 50),
    p95: percentileOfSorted(arr, 95),
    p99: percentileOfSorted(arr, 99),
    max: arr.length ? arr[arr.length - 1]! : NaN,
    mean: arr.length ? sum / arr.length : NaN,
  };
}
