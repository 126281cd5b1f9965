// The rate-window port: counters over fixed time windows, shared by every instance (cluster-wide limits:
// a user's sends over all instances, failed logins per account and per address).

/**
 * `add` is atomic: it adds `n` to `key`'s current window (windows are `windowMs` long, aligned to the epoch)
 * and returns the window's total after the add. Windows expire by themselves.
 */
export interface RateWindows {
  add(key: string, n: number, windowMs: number): Promise<number>;
  /**
   * A token bucket shared by every instance (refills `perSecond`, holds at most `burst`): takes `n` tokens even
   * when that overdraws it, atomically, and returns the tokens left (negative: in debt by that many). `n` = 0 only
   * looks; a negative `n` gives tokens back (a refused request refunding what it took).
   */
  chargeBucket(key: string, n: number, perSecond: number, burst: number): Promise<number>;
}

/** The start of the window `now` falls in (shared by adapters so every instance agrees on window edges). */
export function windowStart(now: number, windowMs: number): number {
  return Math.floor(now / windowMs) * windowMs;
}
