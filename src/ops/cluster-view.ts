// Every instance of the cluster as this instance hears it: the latest samples each one published on the bus, the
// rates between its last two, and a coarse window of older samples for the alert rules' rate()/increase(). An
// instance that stops publishing drops out after the timeout (and counts as down for ChatInstanceDown until it
// comes back or an hour has passed); one that announced it is leaving (graceful shutdown) drops out at once.
import { histogramQuantile } from './alert-rules.js';
import type { InstanceSample } from './stats.js';

/** At most this many instances are tracked (a bound on what bus payloads can make this process keep). */
export const MAX_INSTANCES = 100;
/** Samples of the alert window are kept this far apart, for this long (the longest rule window plus margin). */
const WINDOW_STEP_MS = 10_000;
const WINDOW_KEEP_MS = 11 * 60_000;
const LOST_KEEP_MS = 60 * 60_000;

/** Rates of one instance between two samples. */
export interface Rates {
  messagesIn: number;
  deliveriesOut: number;
  stompErrors: number;
  /** Fraction of one core. */
  cpu: number;
  /** SEND -> MESSAGE latency of the deliveries in between, ms (null: none). */
  p50Ms: number | null;
  p99Ms: number | null;
}

interface InstanceState {
  latest: InstanceSample;
  prev: InstanceSample | null;
  receivedAt: number;
  window: InstanceSample[];
}

/** A counter's increase from a to b; a smaller b means the process restarted (counted from zero). */
export const increase = (a: number, b: number) => (b >= a ? b - a : b);

/** The increase of each e2e bucket between two samples, as [bound (Infinity for +Inf), count] pairs. */
export function bucketIncrease(a: InstanceSample | null, b: InstanceSample): Array<[number, number]> {
  return b.counters.e2e.map(([le, c], i) => [le ?? Infinity, a ? increase(a.counters.e2e[i]?.[1] ?? 0, c) : c]);
}

export function rates(a: InstanceSample | null, b: InstanceSample): Rates {
  const dt = a ? (b.at - a.at) / 1000 : 0;
  if (!a || dt <= 0) return { messagesIn: 0, deliveriesOut: 0, stompErrors: 0, cpu: 0, p50Ms: null, p99Ms: null };
  const errs = (s: InstanceSample) => Object.values(s.counters.stompErrors).reduce((x, y) => x + y, 0);
  const buckets = bucketIncrease(a, b);
  const ms = (q: number) => {
    const v = histogramQuantile(q, buckets);
    return v === null ? null : Math.round(v * 10_000) / 10;
  };
  return {
    messagesIn: increase(a.counters.messagesIn, b.counters.messagesIn) / dt,
    deliveriesOut: increase(a.counters.deliveriesOut, b.counters.deliveriesOut) / dt,
    stompErrors: increase(errs(a), errs(b)) / dt,
    cpu: increase(a.cpuSeconds, b.cpuSeconds) / dt,
    p50Ms: ms(0.5),
    p99Ms: ms(0.99),
  };
}

export class ClusterView {
  private readonly states = new Map<string, InstanceState>();
  private readonly lostAt = new Map<string, number>();

  constructor(private readonly opts: { timeoutMs: number; now?: () => number }) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** A sample from the bus (already validated). false when it was not taken (the instance bound is reached). */
  accept(sample: InstanceSample): boolean {
    const now = this.now();
    if (sample.leaving) {
      this.states.delete(sample.id);
      this.lostAt.delete(sample.id);
      return true;
    }
    let s = this.states.get(sample.id);
    if (!s) {
      if (this.states.size >= MAX_INSTANCES) return false;
      s = { latest: sample, prev: null, receivedAt: now, window: [sample] };
      this.states.set(sample.id, s);
      this.lostAt.delete(sample.id);
      return true;
    }
    if (sample.at <= s.latest.at && sample.startedAt === s.latest.startedAt) return true; // late or repeated
    const restarted = sample.startedAt !== s.latest.startedAt;
    s.prev = restarted ? null : s.latest;
    s.latest = sample;
    s.receivedAt = now;
    if (restarted) s.window = [];
    const last = s.window[s.window.length - 1];
    if (!last || sample.at - last.at >= WINDOW_STEP_MS) s.window.push(sample);
    while (s.window.length > 2 && sample.at - s.window[0]!.at > WINDOW_KEEP_MS) s.window.shift();
    return true;
  }

  /** Live instances by id (sorted); silent ones move to the lost list here. */
  live(): Array<{ sample: InstanceSample; prev: InstanceSample | null; rates: Rates; receivedAt: number; window: readonly InstanceSample[] }> {
    const now = this.now();
    for (const [id, s] of this.states) {
      if (now - s.receivedAt > this.opts.timeoutMs) {
        this.states.delete(id);
        this.lostAt.set(id, s.receivedAt);
      }
    }
    for (const [id, at] of this.lostAt) if (now - at > LOST_KEEP_MS || this.lostAt.size > MAX_INSTANCES) this.lostAt.delete(id);
    return [...this.states.values()]
      .sort((a, b) => a.latest.id.localeCompare(b.latest.id))
      .map((s) => ({
        sample: s.latest,
        prev: s.prev,
        rates: rates(s.prev, s.latest),
        receivedAt: s.receivedAt,
        window: s.window[s.window.length - 1] === s.latest ? [...s.window] : [...s.window, s.latest],
      }));
  }

  /** Instances that stopped publishing without saying goodbye, with when they were last heard (ms). */
  lost(): ReadonlyMap<string, number> {
    return this.lostAt;
  }
}
