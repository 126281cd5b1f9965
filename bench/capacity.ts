// Capacity: the peers load (rooms of 10, one sender per room, open loop, the same driver for every system) stepped
// up until a step's p99 passes --max-p99 or anything is lost, duplicated or out of order, for ours with 1 and 2
// instances, RabbitMQ Web-STOMP and Socket.IO + Redis adapter. A target's capacity is the highest rate it sustained
// before its first step over the limit; the report charts p99 against rate for all of them and gives the range over
// the last runs.
//
// npm run bench -- capacity [--targets ours,rabbitmq,socketio] [--instances 1,2] [--max-p99 100]
//                           [--rates 500,1000,1500,2000,3000,4000,6000,8000] [--rooms 20] [--members 10]
//                           [--warmup 3] [--duration 15] [--drain 10] [--size 100] [--workers <cores>]
import { capacities, saturation, type Capacity, type CapacityRow } from './driver/capacity.js';
import { printRateTable, rateRowJson, type RateStepRow } from './driver/rate-steps.js';
import { stepFlags } from './fanout.js';
import { Flags, RUN_ID, appendResults, commandLine, fmt, printTable, progress } from './lib.js';
import { runTargets, targetFlags } from './peers.js';

export const DEFAULT_CAPACITY_RATES = [500, 1000, 1500, 2000, 3000, 4000, 6000, 8000];

export async function run(args: string[]): Promise<void> {
  const f = new Flags(args, ['targets', 'instances', 'max-p99', 'rates', 'rooms', 'members', 'warmup', 'duration', 'drain', 'size', 'workers']);
  const steps = stepFlags(f, false);
  const p = {
    ...targetFlags(f, [1, 2]),
    ...steps,
    rates: f.list('rates', DEFAULT_CAPACITY_RATES),
    warmupS: f.num('warmup', 3, 0),
    durationS: f.num('duration', 15, 1),
    drainS: f.num('drain', 10, 1),
    maxP99Ms: f.num('max-p99', 100, 1),
  };
  const { rows, foreign } = await runTargets(p);
  printRateTable('capacity', rows);
  const table = capacitiesOf(rows);
  printTable(
    `capacity: the highest rate each target sustained (p99 ≤ ${p.maxP99Ms} ms, nothing lost, duplicated or out of order)`,
    ['target', 'capacity msgs/s', 'deliveries/s there', 'p99 there ms', 'stopped at', 'why'],
    table.map((c) => [c.name, c.capacity ?? 'below the first rate', fmt(c.deliveriesPerSec ?? NaN, 0), fmt(c.p99Ms ?? NaN), c.stoppedAt ?? '-', c.why ?? '-']),
  );
  progress('capacity: see `npm run bench -- report` for the chart and the range over the last runs');
  appendResults('capacity', { ...p, command: commandLine('capacity', args), runId: RUN_ID, foreignServers: [...foreign] }, rows.map(rateRowJson));
}

function capacityRow(r: RateStepRow): CapacityRow {
  const s = r.step;
  const saturated = saturation(s, r.rate) !== null;
  return {
    target: r.target,
    instances: r.instances,
    rate: r.rate,
    deliveriesPerSec: s.deliveriesPerSec,
    p99Ms: s.latency.p99,
    overCapacity: r.overCapacity,
    saturated,
  };
}

function capacitiesOf(rows: readonly RateStepRow[]): Capacity[] {
  return capacities(rows.map(capacityRow));
}
