// Fan-out (claims 1 + 2) on the load driver (bench/driver/): R rooms x M members, every member a WebSocket STOMP
// subscriber of `/topic/rooms.<id>` (users spread over the instances), member 0 of each room its sender
// (`SEND /topic/rooms.<id>`, plain text); all rooms together send at a fixed total rate, open loop (latency from
// each message's intended send time: coordinated omission corrected). Steps over rates, for 1 and for 2
// instances; per step: sent/s, deliveries/s, lost / duplicated / out of order per subscriber, p50..max, the
// driver's own lateness, and µs of CPU per delivered message of every process group (app instances, Kafka,
// PostgreSQL, Redis, the driver) over the measured window.
//
// npm run bench -- fanout [--instances 1,2] [--rooms 20] [--members 10] [--rates 500,1000,2000]
//                         [--warmup 5] [--duration 20] [--drain 15] [--size 100] [--receipts true]
//                         [--workers <cores>] [--all-rates]
//   --size:     message body bytes (plain text, ≤ 4096)
//   --receipts: SENDs ask for a RECEIPT (given once Kafka acknowledged): adds the "rcpt p99" column
//   --workers:  driver worker processes (default: number of cores)
//   --all-rates: keep going after a saturated step (default: skip the higher rates of that configuration once a
//               step got < 75 % of its rate through or a p99 above 5 s)
import { cpus } from 'node:os';
import { groups } from './driver/cpu.js';
import { withDriver } from './driver/driver.js';
import { printRateTable, rateRowJson, runRateSteps, type RateStepRow, type RateStepsParams } from './driver/rate-steps.js';
import { startServer } from '../test/support/cluster.js';
import { Flags, RUN_ID, appendResults, commandLine, fmt, printTable, progress, warnForeignServers, withServers } from './lib.js';
import { createWorld, ourClients, serverEnv, type World } from './rooms.js';

export async function run(args: string[]): Promise<void> {
  const f = new Flags(
    args,
    ['instances', 'rooms', 'members', 'rates', 'warmup', 'duration', 'drain', 'size', 'receipts', 'workers', 'topology'],
    ['all-rates'],
  );
  const p = {
    instances: f.list('instances', [1, 2]),
    // all: every instance runs every role; split: the instances only gateway, one more process runs the consumer groups.
    topology: f.str('topology', 'all') as 'all' | 'split',
    members: f.int('members', 10, 2),
    workers: f.int('workers', cpus().length),
    ...stepFlags(f, true),
  };
  progress(
    `fanout: ${p.rooms} rooms x ${p.members} members = ${p.rooms * p.members} WebSocket STOMP subscribers, one sender per room; ` +
      `rates ${p.rates.join(',')} msgs/s (total); ${p.warmupS}+${p.durationS} s per step; instances ${p.instances.join(',')}; ${p.workers} driver worker(s)`,
  );
  let world: World | null = null;
  const rows: RateStepRow[] = [];
  const foreign = new Set<string>();
  await withDriver({ workers: p.workers }, async (driver) => {
    for (const n of p.instances) {
      const env = serverEnv(Math.max(...p.rates) / p.rooms);
      const consumers =
        p.topology === 'split'
          ? await startServer({ roles: 'persist,broadcast,notify,receipts', env, instanceId: `bench-consumers-${process.pid}-${n}` })
          : null;
      if (consumers) progress(`consumer process ${consumers.instanceId} up (ROLES=persist,broadcast,notify,receipts)`);
      await withServers(
        n,
        `fanout${n}`,
        async (servers) => {
          world ??= await createWorld(servers[0]!, p.rooms, p.members, 'fanout');
          for (const id of await warnForeignServers(servers)) foreign.add(id);
          const cpuGroups = [
            groups.pids('app', () => [...servers.map((s) => s.proc.pid), ...(consumers ? [consumers.proc.pid] : [])]),
            groups.kafka(),
            groups.postgres(),
            groups.redis(),
            groups.pids('driver', () => [process.pid, ...driver.pids]),
          ];
          const target = p.topology === 'split' ? 'ours (gateways + 1 consumer process)' : 'ours';
          rows.push(...(await runRateSteps(driver, { target, instances: n }, ourClients(world, servers, driver.size), p, cpuGroups)));
        },
        { env, ...(consumers ? { roles: 'gateway' } : {}) },
      ).finally(() => consumers?.stop().catch(() => consumers.kill()));
    }
  });

  printRateTable('fanout', rows);
  printGoals(rows, p.members);
  appendResults(
    // The split topology is recorded apart: the report's fan-out section is the all-roles deployment.
    p.topology === 'split' ? 'fanout-split' : 'fanout',
    { ...p, command: commandLine('fanout', args), runId: RUN_ID, foreignServers: [...foreign] },
    rows.map(rateRowJson),
  );
}

/** Flags shared with the peers scenario. */
export function stepFlags(f: Flags, receiptsDefault: boolean): RateStepsParams {
  const p: RateStepsParams = {
    rooms: f.int('rooms', 20),
    rates: f.list('rates', [500, 1000, 2000]),
    warmupS: f.num('warmup', 5, 0),
    durationS: f.num('duration', 20, 1),
    drainS: f.num('drain', 15, 1),
    bodyBytes: f.int('size', 100, 40),
    receipts: f.str('receipts', String(receiptsDefault)) === 'true',
    allRates: f.bool('all-rates'),
  };
  if (p.bodyBytes > 4096) throw new Error('--size must be ≤ 4096 (the content limit of API.md)');
  return p;
}

/** µs of CPU per delivery of every process on the machine but the load driver (the apps, Kafka, PostgreSQL, Redis). */
const serverUs = (r: RateStepRow): number => r.cpuUsPerDelivery.machine! - (r.cpuUsPerDelivery.driver ?? 0);

function printGoals(rows: readonly RateStepRow[], members: number): void {
  const at = (n: number, rate: number) => rows.find((r) => r.instances === n && r.rate === rate);
  const lat = (r: RateStepRow | undefined) =>
    r ? `${fmt(r.step.latency.p50)} / ${fmt(r.step.latency.p99)} ms (${fmt(r.step.deliveriesPerSec, 0)} deliveries/s, lost ${r.step.lost})` : 'not run';
  const goals: Array<[string, string]> = [];
  for (const rate of [1000, 2000]) goals.push([`1 instance, ${rate.toLocaleString('en')} msgs/s, rooms of ${members}: p50 / p99`, lat(at(1, rate))]);
  const rates = [...new Set(rows.map((r) => r.rate))];
  for (const rate of rates) {
    const one = at(1, rate);
    const two = at(2, rate);
    if (one && two)
      goals.push(
        [
          `2 instances vs 1 at ${rate} msgs/s: p99 ratio`,
          `${fmt(two.step.latency.p99 / one.step.latency.p99, 2)}x (${fmt(two.step.latency.p99)} vs ${fmt(one.step.latency.p99)} ms)`,
        ],
        [
          `2 instances vs 1 at ${rate} msgs/s: server CPU per delivery (every process but the driver)`,
          `${fmt(serverUs(two) / serverUs(one), 2)}x (${fmt(serverUs(two), 1)} vs ${fmt(serverUs(one), 1)} µs)`,
        ],
      );
  }
  for (const r of rows)
    goals.push([
      `app CPU per delivered message, ${r.instances} instance${r.instances > 1 ? 's' : ''} at ${r.rate} msgs/s`,
      `${fmt(r.cpuUsPerDelivery.app!, 1)} µs (all processes: ${fmt(r.cpuUsPerDelivery.machine!, 1)} µs)`,
    ]);
  printTable('fanout: goals of the issue', ['goal', 'measured'], goals);
}
