// The generated capacity section of PERF_RESULT.md: each target's capacity in the last runs (the highest rate
// sustained with p99 within the limit and nothing lost), the latest run's steps, and p99 against rate for all.
import { capacities, saturation, type Capacity, type CapacityRow } from '../driver/capacity.js';
import { markdownTable } from '../lib.js';
import type { ResultLine } from './results.js';
import {
  driverLine,
  f,
  foreignLine,
  latencyCells,
  latencyHeaders,
  link,
  n0,
  section,
  targetKey as keyOf,
  targetLabel,
  type Chart,
  type Row,
  type Section,
} from './sections.js';
import { PALETTE, lineChart, type Series } from './svg.js';

function toCapacityRow(r: Row): CapacityRow {
  const step = {
    sentPerSec: r.sentPerSec,
    deliveriesPerSec: r.deliveriesPerSec,
    expected: r.expected,
    sent: r.sent,
    lost: r.lost,
    latency: { p99: r.latencyMs?.p99 },
  };
  const saturated = saturation(step, r.rate) !== null;
  return {
    target: r.target,
    instances: r.instances ?? 1,
    rate: r.rate,
    deliveriesPerSec: r.deliveriesPerSec,
    p99Ms: r.latencyMs?.p99,
    overCapacity: r.overCapacity ?? null,
    saturated,
  };
}

/** `runs`: the last runs of the capacity scenario, newest first, each as its result lines. */
export function capacitySection(runs: ReadonlyArray<readonly ResultLine[]>, chartsRel: string): Section {
  const latest = runs[0]! as readonly Row[];
  const p = latest[0]!.params as Record<string, any>;
  const perRun = runs.map((lines) => capacities((lines as readonly Row[]).map(toCapacityRow)));
  const keys = [...new Set(perRun.flatMap((caps) => caps.map((c) => c.name)))];
  const labels = labelsOf(runs.flat() as Row[]);
  const nameOf = (key: string) => labels.get(key) ?? key;
  const at = (caps: Capacity[], key: string) => caps.find((c) => c.name === key);
  const show = (c: Capacity | undefined) => (!c ? '-' : c.capacity === null ? `< ${n0(c.stoppedAt)}` : n0(c.capacity));
  const range = (key: string) => {
    const xs = perRun.map((caps) => at(caps, key)?.capacity).filter((v): v is number => typeof v === 'number');
    return xs.length ? (Math.min(...xs) === Math.max(...xs) ? n0(xs[0]) : `${n0(Math.min(...xs))}–${n0(Math.max(...xs))}`) : '-';
  };
  const ratios = perRun.map((caps) => {
    const ours = at(caps, 'ours')?.capacity;
    const rabbit = at(caps, 'rabbitmq')?.capacity;
    return ours && rabbit ? `${f(ours / rabbit, 2)}x` : '-';
  });
  const rows = [...latest].sort((a, b) => keys.indexOf(keyOf(a)) - keys.indexOf(keyOf(b)) || a.rate - b.rate);
  const chart = p99Chart(rows, p.maxP99Ms);
  const body = [
    `The peers load (${p.rooms} rooms × ${p.members} members, one sender per room, open loop, one driver for every system) ` +
      `stepped up through ${(p.rates as number[]).map(n0).join(', ')} msgs/s (${p.warmupS} s warm-up + ${p.durationS} s measured per step). ` +
      `A target stops after its first step with p99 above ${p.maxP99Ms} ms or anything lost, duplicated or out of order; ` +
      `its capacity is the highest rate it sustained before that step. Everything shares the machine's 2 vCPUs: ` +
      `ours runs Kafka, PostgreSQL and Redis beside it (every message stored before it is delivered); RabbitMQ and ` +
      `Socket.IO store nothing.`,
    '',
    `Capacity in msgs/s (each message goes to ${p.members} subscribers), the last ${runs.length} run(s), newest first:`,
    '',
    markdownTable(
      [
        'target',
        ...runs.map((lines, i) => `run ${i + 1} (${lines[0]!.date.slice(0, 16).replace('T', ' ')})`),
        'range',
        'latest run: first step over the limit',
      ],
      keys.map((key) => {
        const c = at(perRun[0]!, key);
        return [
          nameOf(key),
          ...perRun.map((caps) => show(at(caps, key))),
          range(key),
          c?.stoppedAt ? `${n0(c.stoppedAt)} msgs/s: ${c.why}` : 'none (every rate run was within)',
        ];
      }),
    ),
    '',
    `Ours (1 instance) against RabbitMQ, capacity ratio per run: ${ratios.join(', ')}.`,
    '',
    driverLine(rows, p.workers),
    '',
    ...foreignLine(latest),
    `The latest run's steps:`,
    '',
    markdownTable(
      ['target', 'rate msg/s', ...latencyHeaders],
      rows.map((r) => [nameOf(keyOf(r)), n0(r.rate), ...latencyCells(r)]),
    ),
    '',
    link(chartsRel, chart),
  ];
  return section('capacity', 'Capacity: the rate each system sustains', latest, body, [chart]);
}

/** Each target key's label ("ours x2" → "ours (2 instances)"). */
function labelsOf(rows: readonly Row[]): Map<string, string> {
  return new Map(rows.map((r) => [keyOf(r), targetLabel(r.target, r.instances ?? 1)]));
}

function p99Chart(rows: readonly Row[], limitMs: number): Chart {
  const labels = labelsOf(rows);
  const keys = [...labels.keys()];
  const series: Series[] = keys.map((key, i) => ({
    name: `${labels.get(key)!} p99`,
    color: PALETTE[i % PALETTE.length]!,
    points: rows.filter((r) => keyOf(r) === key).map((r): [number, number] => [r.rate, r.latencyMs?.p99]),
  }));
  const xs = rows.map((r) => r.rate);
  series.push({
    name: `limit (${limitMs} ms)`,
    color: '#999999',
    dashed: true,
    points: [
      [Math.min(...xs), limitMs],
      [Math.max(...xs), limitMs],
    ],
  });
  const title = `Capacity: p99 against send rate, rooms of ${(rows[0]!.params as Record<string, any>).members}`;
  return {
    file: 'capacity-p99.svg',
    alt: title,
    svg: lineChart({ title, xLabel: 'send rate (messages/s, all rooms)', yLabel: 'p99 ms (intended send → delivery)', series, logY: true }),
  };
}
