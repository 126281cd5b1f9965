// Open-loop pacing without drift, and bounded concurrency.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Calls `fire(i)` for i = 0.. at `ratePerSec` for `durationMs`, open loop and without drift: every tick
 * computes how many calls are due since the start and makes them in one small burst.
 */
export async function paced(ratePerSec: number, durationMs: number, fire: (i: number) => void, tickMs = 2): Promise<{ sent: number; elapsedMs: number }> {
  const t0 = performance.now();
  const total = Math.floor((ratePerSec * durationMs) / 1000);
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) * ratePerSec) / 1000) + 1);
    while (sent < due) fire(sent++);
    if (sent >= total) break;
    // Sleep until the next due time (at least one tick; setTimeout granularity is ~1 ms).
    const nextAt = t0 + (sent * 1000) / ratePerSec;
    await sleep(Math.max(tickMs, nextAt - performance.now()));
  }
  return { sent, elapsedMs: performance.now() - t0 };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
