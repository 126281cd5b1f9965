// Capacity stepping's rule (shared by the rate steps, the capacity scenario and its report): a step is over
// capacity when its p99 passes the limit or anything is lost, duplicated or out of order; a target's capacity is
// the highest rate it sustained before its first step over the limit (or saturated).
import { fmt } from '../lib.js';
import type { StepSummary } from './driver.js';

/**
 * Why a step saturated the target (the rate steps skip the higher rates after it even without a p99 limit): fewer
 * than 75 % of the offered sends went out or came back, or p99 above 5 s; null if not.
 */
export function saturation(
  s: Pick<StepSummary, 'sentPerSec' | 'deliveriesPerSec' | 'expected' | 'sent' | 'lost'> & { latency: { p99: number } },
  rate: number,
): string | null {
  const expectedPerSec = (s.expected / Math.max(1, s.sent)) * rate;
  if (s.sentPerSec < 0.75 * rate) return `sent ${fmt(s.sentPerSec, 0)}/s of ${rate}/s`;
  if (s.deliveriesPerSec < 0.75 * expectedPerSec)
    return `delivered ${fmt(s.deliveriesPerSec, 0)}/s of ${fmt(expectedPerSec, 0)}/s${s.lost ? ` (${s.lost} lost)` : ''}`;
  return s.latency.p99 > 5000 ? `p99 ${fmt(s.latency.p99, 0)} ms > 5 s` : null;
}

/** Why a step is over capacity: p99 above the limit, or any message lost, duplicated or out of order; null if within. */
export function overCapacity(s: Pick<StepSummary, 'latency' | 'lost' | 'duplicates' | 'outOfOrder'>, maxP99Ms: number): string | null {
  const broken = [s.lost && `${s.lost} lost`, s.duplicates && `${s.duplicates} duplicated`, s.outOfOrder && `${s.outOfOrder} out of order`].filter(Boolean);
  if (broken.length) return broken.join(', ');
  return s.latency.p99 > maxP99Ms ? `p99 ${fmt(s.latency.p99, 1)} ms > ${maxP99Ms} ms` : null;
}

export interface Capacity {
  name: string;
  /** Highest rate sustained before the first step over the limit (null: the first step was over it). */
  capacity: number | null;
  deliveriesPerSec: number | null;
  p99Ms: number | null;
  /** The first rate over the limit (null: every rate run was within it). */
  stoppedAt: number | null;
  why: string | null;
}

/** Per target (and instance count), in the order met: the capacity of one run's rows. */
export function capacities(rows: readonly CapacityRow[]): Capacity[] {
  const names = [...new Set(rows.map(targetName))];
  return names.map((name) => {
    const mine = rows.filter((r) => targetName(r) === name).sort((a, b) => a.rate - b.rate);
    const first = mine.findIndex((r) => r.overCapacity !== null || r.saturated);
    const within = first === -1 ? mine : mine.slice(0, first);
    const best = within.at(-1);
    const over = first === -1 ? undefined : mine[first];
    return {
      name,
      capacity: best?.rate ?? null,
      deliveriesPerSec: best?.deliveriesPerSec ?? null,
      p99Ms: best?.p99Ms ?? null,
      stoppedAt: over?.rate ?? null,
      why: over ? (over.overCapacity ?? 'saturated') : null,
    };
  });
}

/** What capacities() needs of a step (a RateStepRow now, or a result line of an earlier run). */
export interface CapacityRow {
  target: string;
  instances: number;
  rate: number;
  deliveriesPerSec: number;
  p99Ms: number;
  overCapacity: string | null;
  /** The rate steps' saturation rule (see saturation()) held. */
  saturated: boolean;
}

export const targetName = (r: { target: string; instances: number }): string => (r.instances > 1 ? `${r.target} x${r.instances}` : r.target);
