// A bench result line for the report's tests: the machine fields every line carries and one rate step of `target`
// (rooms of 10, nothing lost), then the scenario's own fields.
import type { ResultLine } from '../../bench/report/results.js';

export interface StepLine {
  scenario: string;
  date: string;
  params: Record<string, unknown>;
  target: string;
  instances: number;
  rate: number;
  p99: number;
}

export function stepResultLine(s: StepLine, extra: Record<string, unknown> = {}): ResultLine {
  return {
    scenario: s.scenario,
    date: s.date,
    cpus: 2,
    cpuModel: 'test cpu',
    platform: 'linux-x64',
    node: 'v24',
    params: s.params,
    target: s.target,
    instances: s.instances,
    rate: s.rate,
    sentPerSec: s.rate,
    deliveriesPerSec: s.rate * 10,
    lost: 0,
    duplicates: 0,
    outOfOrder: 0,
    errors: {},
    latencyMs: { p50: 1, p90: 2, p99: s.p99, p999: s.p99, max: s.p99 },
    sendLagMs: { p99: 1 },
    ...extra,
  } as unknown as ResultLine;
}
