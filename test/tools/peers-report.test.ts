// The peers section with ours at two instance counts (`peers --instances 1,2`): each count is a target of its own,
// and the ratios are taken against one instance.
import { describe, expect, it } from 'vitest';
import { peersSection } from '../../bench/report/sections.js';
import { stepResultLine } from '../support/result-lines.js';

const params = { runId: 'r', rooms: 20, members: 10, warmupS: 3, durationS: 15, workers: 2 };
const line = (target: string, instances: number, rate: number, p99: number, appUs: number) =>
  stepResultLine(
    { scenario: 'peers', date: '2026-12-06T12:00:00Z', params, target, instances, rate, p99 },
    { cpuUsPerDelivery: { app: appUs, machine: appUs * 2 }, cpu: { machinePct: 50, groups: { app: { pctOfCore: 40 } } } },
  );

describe('peers section', () => {
  it('shows ours with 2 instances as its own target, compared with 1 instance', () => {
    const s = peersSection([line('ours', 2, 500, 40, 150), line('ours', 1, 500, 20, 100), line('rabbitmq', 1, 500, 5, 0)], 'charts');
    expect(s.markdown).toMatch(/\| ours \(2 instances\)\s*\| 500\s*\| 5,000\s*\| 1\.00x\s*\| 1\.0 \/ 40\.0 \/ 40\.0\s*\| 2\.00x\s*\| 150\.0\s*\| 1\.50x/);
    // One instance first, then two.
    expect(s.markdown.indexOf('| ours (1 instance)')).toBeLessThan(s.markdown.indexOf('| ours (2 instances)'));
    expect(s.charts[0]!.svg).toContain('ours (2 instances) p99');
  });
});
