// Rate steps on one target (shared by the fanout and peers scenarios): connect the rooms' clients, then for each
// send rate run an open-loop step with a warm-up and a measured window, sample the CPU of every process group
// over exactly that window, and turn it all into one result row per step.
import { cpus, loadavg } from 'node:os';
import { fmt, printTable, progress } from '../lib.js';
import { CpuSampler, cpuPerDelivery, readProc, CLOCK_TICKS, type CpuReport, type ProcessGroup } from './cpu.js';
import type { Driver, StepSummary } from './driver.js';
import { overCapacity, saturation, targetName } from './capacity.js';
import type { ClientSpec } from './ipc.js';

export interface RateStepsParams {
  rates: number[];
  rooms: number;
  warmupS: number;
  durationS: number;
  drainS: number;
  bodyBytes: number;
  receipts: boolean;
  /** Keep going after a saturated step (else the higher rates of this target are skipped). */
  allRates: boolean;
  /**
   * Capacity stepping: a step is over capacity when its p99 passes this many ms or anything is lost, duplicated or
   * out of order, and the target's higher rates are skipped after it (unless allRates). Unset: only saturation stops.
   */
  maxP99Ms?: number | null;
}

export interface RateStepRow {
  target: string;
  instances: number;
  rate: number;
  /** Clients that could not connect or subscribe before the steps. */
  connectFailed: number;
  step: Omit<StepSummary, 'latencyHist'>;
  latencyHist: string;
  cpu: CpuReport;
  /** µs of CPU per delivered message (deliveries in the window), per group, plus `machine`. */
  cpuUsPerDelivery: Record<string, number>;
  /** The busiest driver worker, % of one core over the window. */
  driverMaxWorkerPct: number;
  loadAvg1m: number;
  /** Why this step is over capacity (capacity stepping, see RateStepsParams.maxP99Ms), or null. */
  overCapacity: string | null;
}

let stepCounter = 0;

/** Runs the rates of `p` over `clients` (already described, not yet connected) and closes them at the end. */
export async function runRateSteps(
  driver: Driver,
  label: { target: string; instances: number },
  clients: ClientSpec[],
  p: RateStepsParams,
  groups: ProcessGroup[],
): Promise<RateStepRow[]> {
  const name = targetName(label);
  const subscribersPerRoom = new Array<number>(p.rooms).fill(0);
  for (const c of clients) for (const s of c.subscribe) subscribersPerRoom[s.room]!++;
  progress(`${name}: connecting ${clients.length} clients (${p.rooms} rooms) over ${driver.size} driver worker(s)`);
  const conn = await driver.connect(clients, { concurrency: 25, timeoutMs: 30_000 });
  progress(
    `${name}: ${conn.connected} connected and subscribed, ${conn.failed} failed${conn.failed ? ` (${JSON.stringify(conn.errors)})` : ''}; connect p50/p99 ${fmt(conn.connect.p50)}/${fmt(conn.connect.p99)} ms`,
  );
  if (conn.connected === 0) throw new Error(`${name}: no client could connect (${JSON.stringify(conn.errors)})`);
  const rows: RateStepRow[] = [];
  try {
    for (const rate of p.rates) {
      const sampler = new CpuSampler(groups);
      const workerTicks = new Map<number, number>();
      let workerMax = NaN;
      let cpu: CpuReport | null = null;
      progress(`${name} @ ${rate} msgs/s: ${p.warmupS} s warm-up + ${p.durationS} s measured`);
      const step = await driver.step(
        { step: ++stepCounter, rate, rooms: p.rooms, warmupMs: p.warmupS * 1000, durationMs: p.durationS * 1000, bodyBytes: p.bodyBytes, receipts: p.receipts },
        subscribersPerRoom,
        {
          drainMs: p.drainS * 1000,
          onWindowStart: () => {
            sampler.begin();
            for (const pid of driver.pids) workerTicks.set(pid, readProc(pid)?.selfTicks ?? NaN);
          },
          onWindowEnd: () => {
            cpu = sampler.end();
            workerMax = Math.max(...driver.pids.map((pid) => (((readProc(pid)?.selfTicks ?? NaN) - workerTicks.get(pid)!) / CLOCK_TICKS / p.durationS) * 100));
          },
          onProgress: (s) => progress(`${name} @ ${rate}: ${s.phase}, sent ${s.sent}, delivered ${s.unique} of ${s.expected}`),
        },
      );
      const { latencyHist, ...summary } = step;
      const report = cpu ?? sampler.end();
      const row: RateStepRow = {
        target: label.target,
        instances: label.instances,
        rate,
        connectFailed: conn.failed,
        step: summary,
        latencyHist,
        cpu: report,
        cpuUsPerDelivery: cpuPerDelivery(report, step.deliveriesInWindow),
        driverMaxWorkerPct: workerMax,
        loadAvg1m: Number(loadavg()[0]!.toFixed(2)),
        overCapacity: p.maxP99Ms ? overCapacity(step, p.maxP99Ms) : null,
      };
      rows.push(row);
      progress(stepLine(name, row));
      if (!step.drained) progress(`${name} @ ${rate}: WARNING: not every delivery arrived within the ${p.drainS} s drain (counted as lost)`);
      if (workerMax > 80)
        progress(`${name} @ ${rate}: WARNING: a driver worker used ${fmt(workerMax, 0)} % of a core: add --workers or the driver may be the bottleneck`);
      const saturated = saturation(step, rate);
      const stop = saturated ? `saturated at ${rate} msgs/s (${saturated})` : row.overCapacity ? `over capacity at ${rate} msgs/s (${row.overCapacity})` : null;
      if (stop && !p.allRates) {
        const rest = p.rates.slice(p.rates.indexOf(rate) + 1);
        if (rest.length) progress(`${name} ${stop}: skipping ${rest.join(', ')} (--all-rates runs them anyway)`);
        break;
      }
    }
  } finally {
    await driver.closeClients();
  }
  return rows;
}

function stepLine(name: string, r: RateStepRow): string {
  const s = r.step;
  const cpu = Object.entries(r.cpuUsPerDelivery)
    .map(([g, us]) => `${g} ${fmt(us, 1)}`)
    .join(', ');
  return (
    `${name} @ ${r.rate}: sent ${fmt(s.sentPerSec, 0)}/s, delivered ${fmt(s.deliveriesPerSec, 0)}/s, lost ${s.lost}, dup ${s.duplicates}, out-of-order ${s.outOfOrder}, ` +
    `p50/p90/p99/p99.9/max ${fmt(s.latency.p50)}/${fmt(s.latency.p90)}/${fmt(s.latency.p99)}/${fmt(s.latency.p999)}/${fmt(s.latency.max)} ms, ` +
    `driver send lag p99 ${fmt(s.sendLag.p99, 2)} ms, errors ${errorCount(s.errors)}; CPU µs per delivery: ${cpu}; machine ${fmt(r.cpu.machinePct, 0)} % of ${cpus().length} cores`
  );
}

export const errorCount = (e: Record<string, number>): number => Object.values(e).reduce((a, b) => a + b, 0);

/** Process groups whose CPU per delivery is shown, in table order (those present in the rows). */
function groupNames(rows: readonly RateStepRow[]): string[] {
  const names: string[] = [];
  for (const r of rows) for (const g of r.cpu.groups) if (!names.includes(g.name)) names.push(g.name);
  return names;
}

/** The result table of rate steps (latency and loss, then µs of CPU per delivered message per process group). */
export function printRateTable(title: string, rows: readonly RateStepRow[]): void {
  const groups = groupNames(rows);
  printTable(
    title,
    [
      'target',
      'inst',
      'rate msg/s',
      'sent/s',
      'deliv/s',
      'lost',
      'dup',
      'ooo',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'p99.9 ms',
      'max ms',
      'rcpt p99',
      'lag p99',
      'errors',
    ],
    rows.map((r) => {
      const s = r.step;
      return [
        r.target,
        r.instances,
        r.rate,
        fmt(s.sentPerSec, 0),
        fmt(s.deliveriesPerSec, 0),
        s.lost,
        s.duplicates,
        s.outOfOrder,
        fmt(s.latency.p50),
        fmt(s.latency.p90),
        fmt(s.latency.p99),
        fmt(s.latency.p999),
        fmt(s.latency.max),
        fmt(s.receipt.p99),
        fmt(s.sendLag.p99, 2),
        errorCount(s.errors) + r.connectFailed,
      ];
    }),
  );
  printTable(
    `${title}: CPU µs per delivered message (and % of one core)`,
    ['target', 'inst', 'rate msg/s', ...groups, 'machine', 'machine %', 'driver max worker %'],
    rows.map((r) => [
      r.target,
      r.instances,
      r.rate,
      ...groups.map((g) => {
        const c = r.cpu.groups.find((x) => x.name === g);
        return c ? `${fmt(r.cpuUsPerDelivery[g]!, 1)} (${fmt(c.pctOfCore, 0)}%)` : '-';
      }),
      fmt(r.cpuUsPerDelivery.machine!, 1),
      fmt(r.cpu.machinePct, 0),
      fmt(r.driverMaxWorkerPct, 0),
    ]),
  );
}

/** A JSON-friendly result line for appendResults. */
export function rateRowJson(r: RateStepRow): Record<string, unknown> {
  const s = r.step;
  return {
    target: r.target,
    instances: r.instances,
    rate: r.rate,
    connectFailed: r.connectFailed,
    sentPerSec: Number(s.sentPerSec.toFixed(1)),
    deliveriesPerSec: Number(s.deliveriesPerSec.toFixed(1)),
    sent: s.sent,
    expected: s.expected,
    uniqueDeliveries: s.uniqueDeliveries,
    lost: s.lost,
    duplicates: s.duplicates,
    outOfOrder: s.outOfOrder,
    subscriptions: s.subscriptions,
    subscriptionsWithLoss: s.subscriptionsWithLoss,
    late: s.late,
    malformed: s.malformed,
    receiptsOk: s.receiptsOk,
    errors: s.errors,
    drained: s.drained,
    latencyMs: s.latency,
    sendLagMs: s.sendLag,
    receiptMs: s.receipt,
    latencyHist: r.latencyHist,
    cpu: {
      windowSeconds: Number(r.cpu.windowSeconds.toFixed(3)),
      machinePct: Number(r.cpu.machinePct.toFixed(1)),
      cores: r.cpu.cores,
      otherSeconds: Number(r.cpu.otherSeconds.toFixed(3)),
      groups: Object.fromEntries(
        r.cpu.groups.map((g) => [g.name, { cpuSeconds: Number(g.cpuSeconds.toFixed(3)), pctOfCore: Number(g.pctOfCore.toFixed(1)), processes: g.processes }]),
      ),
    },
    cpuUsPerDelivery: Object.fromEntries(Object.entries(r.cpuUsPerDelivery).map(([k, v]) => [k, Number.isFinite(v) ? Number(v.toFixed(2)) : null])),
    driverMaxWorkerPct: Number.isFinite(r.driverMaxWorkerPct) ? Number(r.driverMaxWorkerPct.toFixed(1)) : null,
    loadAvg1m: r.loadAvg1m,
    overCapacity: r.overCapacity,
  };
}
