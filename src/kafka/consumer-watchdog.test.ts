import { describe, expect, it } from 'vitest';
import { ConsumerWatchdog, isCoordinatorError } from './consumer-watchdog.js';

const dog = () => new ConsumerWatchdog({ coordinatorGraceMs: 5000, stallMs: 10_000 });
const p = (partition: number, committed: number, end: number) => ({ partition, committed: BigInt(committed), end: BigInt(end) });

describe('ConsumerWatchdog', () => {
  it('commits refused by the coordinator for the grace period, with no success between: replace', () => {
    const d = dog();
    d.coordinatorFailed(1000);
    d.coordinatorFailed(4000);
    expect(d.verdict(5999)).toBeNull();
    expect(d.verdict(6000)).toMatch(/coordinator/);
    d.commitSucceeded();
    expect(d.verdict(20_000)).toBeNull();
  });

  it('a partition with records waiting whose committed offset does not move: replace after stallMs', () => {
    const d = dog();
    d.observe([p(0, 5, 9), p(1, 3, 3)], 0);
    d.observe([p(0, 5, 12), p(1, 3, 3)], 4000);
    expect(d.verdict(9999)).toBeNull();
    expect(d.verdict(10_000)).toMatch(/partition 0 .* committed offset 5/);
  });

  it('progress, catching up, or a batch at work restart the clock', () => {
    const d = dog();
    d.observe([p(0, 5, 9)], 0);
    d.observe([p(0, 6, 12)], 8000); // moved
    expect(d.verdict(15_000)).toBeNull();
    d.observe([p(0, 6, 12)], 15_000, true); // busy in the handler (a store outage): not a stuck consumer
    expect(d.verdict(24_000)).toBeNull();
    d.observe([p(0, 12, 12)], 24_000); // caught up
    d.observe([p(0, 12, 12)], 60_000);
    expect(d.verdict(60_000)).toBeNull();
  });

  it('forgets partitions it no longer owns, and everything on reset', () => {
    const d = dog();
    d.observe([p(0, 5, 9)], 0);
    d.observe([p(1, 0, 0)], 1000);
    expect(d.verdict(50_000)).toBeNull();
    d.observe([p(1, 0, 4)], 50_000);
    d.coordinatorFailed(50_000);
    d.reset();
    expect(d.verdict(100_000)).toBeNull();
  });
});

describe('isCoordinatorError', () => {
  it('recognises the coordinator answers, wrapped or not', () => {
    expect(isCoordinatorError({ type: 'NOT_COORDINATOR_FOR_GROUP' })).toBe(true);
    expect(isCoordinatorError({ message: 'x', cause: { type: 'GROUP_COORDINATOR_NOT_AVAILABLE' } })).toBe(true);
    expect(isCoordinatorError({ originalError: { type: 'COORDINATOR_LOAD_IN_PROGRESS' } })).toBe(true);
    expect(isCoordinatorError({ type: 'REBALANCE_IN_PROGRESS' })).toBe(false);
    expect(isCoordinatorError(new Error('boom'))).toBe(false);
  });
});
