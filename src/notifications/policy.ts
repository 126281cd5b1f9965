// What an attempt's answer means and when the next attempt comes: pure functions, unit-tested beside.
//   2xx                      delivered
//   408, 429, 5xx            the receiver is overloaded or down: retried with backoff (Retry-After honoured, capped)
//   timeout, connection error  retried with backoff
//   other 4xx, 3xx           a refusal of this request (bad signature, unknown route, gone, a redirect we do
//                            not follow): retrying the same bytes cannot help, so the delivery fails at once and
//                            waits for an operator to fix the receiver and retry it
import type { RequestOutcome } from '../metrics/webhook.js';

export interface AttemptResult {
  status: number | null;
  /** Set when no status came back. */
  error: 'timeout' | 'network' | 'aborted' | null;
  /** From a Retry-After header in seconds (or an HTTP date), when present. */
  retryAfterMs: number | null;
  detail?: string;
}

export interface Verdict {
  outcome: RequestOutcome;
  /** delivered: done; retry: try again later; fail: give up now. */
  action: 'delivered' | 'retry' | 'fail';
}

export function classify(r: AttemptResult): Verdict {
  if (r.status === null) return { outcome: r.error === 'timeout' ? 'timeout' : 'network', action: 'retry' };
  if (r.status >= 200 && r.status < 300) return { outcome: 'ok', action: 'delivered' };
  if (r.status >= 500) return { outcome: 'http_5xx', action: 'retry' };
  if (r.status === 408 || r.status === 429) return { outcome: 'http_4xx', action: 'retry' };
  if (r.status >= 400) return { outcome: 'http_4xx', action: 'fail' };
  return { outcome: 'http_other', action: 'fail' };
}

export interface Backoff {
  /** Delay before the 2nd attempt; doubled for each further one. */
  baseMs: number;
  maxMs: number;
}

/**
 * Delay after the `attempt`-th attempt failed: base x 2^(attempt-1), capped, with "equal jitter" (between half and
 * all of it) so the deliveries of one outage do not come back in one wave. A Retry-After longer than that wins,
 * up to the cap.
 */
export function backoffDelay(attempt: number, b: Backoff, random: () => number = Math.random, retryAfterMs: number | null = null): number {
  const exp = Math.min(b.maxMs, b.baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  const jittered = Math.round(exp / 2 + (exp / 2) * random());
  return Math.min(b.maxMs, Math.max(jittered, retryAfterMs ?? 0));
}

/** Retry-After: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (!value) return null;
  if (/^\d{1,9}$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = /GMT$/.test(value.trim()) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}
