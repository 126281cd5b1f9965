// Capacity stepping's rule and its report: what counts as over capacity, which rate is a target's capacity, and the
// generated section over several runs.
import { describe, expect, it } from 'vitest';
import { capacities, overCapacity, type CapacityRow } from '../../bench/driver/capacity.js';
import { capacitySection } from '../../bench/report/capacity.js';
import { stepResultLine } from '../support/result-lines.js';

const step = (p99: number, lost = 0, duplicates = 0, outOfOrder = 0) => ({ latency: { p99 } as never, lost, duplicates, outOfOrder });

describe('overCapacity', () => {
  it('is null while p99 is within the limit and nothing is lost, duplicated or out of order', () => {
    expect(overCapacity(step(99.9), 100)).toBeNull();
    expect(overCapacity(step(100), 100)).toBeNull();
  });

  it('names a p99 above the limit', () => {
    expect(overCapacity(step(100.1), 100)).toBe('p99 100.1 ms > 100 ms');
  });

  it('names any loss, duplicate or reordering, whatever the latency', () => {
    expect(overCapacity(step(3, 1), 100)).toBe('1 lost');
    expect(overCapacity(step(3, 0, 2, 5), 100)).toBe('2 duplicated, 5 out of order');
  });
});

const row = (target: string, instances: number, rate: number, over: string | null, saturated = false): CapacityRow => ({
  target,
  instances,
  rate,
  deliveriesPerSec: rate * 10,
  p99Ms: over ? 150 : 20,
  overCapacity: over,
  saturated,
});

describe('capacities', () => {
  it('is the highest rate before the first step over the limit, per target and instance count', () => {
    const caps = capacities([
      row('ours', 1, 500, null),
      row('ours', 1, 1000, null),
      row('ours', 1, 1500, 'p99 150.0 ms > 100 ms'),
      // A later step back within the limit does not count: capacity ends at the first failure.
      row('ours', 1, 2000, null),
      row('ours', 2, 500, null),
      row('ours', 2, 1000, null, true),
      row('rabbitmq', 1, 500, '1 lost'),
      row('socketio', 1, 500, null),
    ]);
    expect(caps).toEqual([
      { name: 'ours', capacity: 1000, deliveriesPerSec: 10000, p99Ms: 20, stoppedAt: 1500, why: 'p99 150.0 ms > 100 ms' },
      { name: 'ours x2', capacity: 500, deliveriesPerSec: 5000, p99Ms: 20, stoppedAt: 1000, why: 'saturated' },
      { name: 'rabbitmq', capacity: null, deliveriesPerSec: null, p99Ms: null, stoppedAt: 500, why: '1 lost' },
      { name: 'socketio', capacity: 500, deliveriesPerSec: 5000, p99Ms: 20, stoppedAt: null, why: null },
    ]);
  });
});

describe('capacity report section', () => {
  const params = (runId: string) => ({
    runId,
    command: 'npm run bench -- capacity',
    rooms: 20,
    members: 10,
    rates: [500, 1000],
    warmupS: 3,
    durationS: 15,
    maxP99Ms: 100,
    workers: 2,
  });
  const line = (runId: string, date: string, target: string, instances: number, rate: number, p99: number, over: string | null) =>
    stepResultLine(
      { scenario: 'capacity', date, params: params(runId), target, instances, rate, p99 },
      { sent: rate * 18, expected: rate * 180, uniqueDeliveries: rate * 10, overCapacity: over },
    );
  const run = (id: string, date: string, oursAt1000: string | null) => [
    line(id, date, 'ours', 1, 500, 20, null),
    line(id, date, 'ours', 1, 1000, oursAt1000 ? 150 : 30, oursAt1000),
    line(id, date, 'rabbitmq', 1, 500, 120, 'p99 120.0 ms > 100 ms'),
  ];

  it('gives each target its capacity in every run, the range, and a p99 chart with the limit', () => {
    const s = capacitySection([run('b', '2026-12-06T12:00:00Z', null), run('a', '2026-12-06T11:00:00Z', 'p99 150.0 ms > 100 ms')], 'bench/charts');
    expect(s.name).toBe('capacity');
    expect(s.markdown).toMatch(/\| ours \(1 instance\)\s*\| 1,000\s*\| 500\s*\| 500–1,000\s*\| none \(every rate run was within\)/);
    expect(s.markdown).toMatch(/\| RabbitMQ Web-STOMP\s*\| < 500\s*\| < 500\s*\| -\s*\| 500 msgs\/s: p99 120\.0 ms > 100 ms/);
    expect(s.markdown).toContain('![Capacity: p99 against send rate, rooms of 10](bench/charts/capacity-p99.svg)');
    expect(s.charts).toHaveLength(1);
    expect(s.charts[0]!.svg).toContain('limit (100 ms)');
    expect(s.charts[0]!.svg).toContain('RabbitMQ Web-STOMP p99');
  });
});
