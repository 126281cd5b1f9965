// Peers: the same driver, the same rooms x members shape and the same open-loop rates, in one run, against
// (a) ours (1 instance, WebSocket STOMP, `/topic/rooms.<id>`), (b) RabbitMQ Web-STOMP (ws://127.0.0.1:15674/ws,
// guest/guest, `/topic/room.<n>`; the plugin is enabled when its port is closed) and (c) a Socket.IO reference
// server (bench/peers/socketio-server.ts, @socket.io/redis-adapter on the same Redis; socket.io-client in the
// driver's workers). Per target and rate: deliveries/s, latency, loss, µs of CPU per delivery of each process
// group, and the ratios to ours.
//
// npm run bench -- peers [--targets ours,rabbitmq,socketio] [--instances 1] [--rooms 20] [--members 10] [--rates 500,1000,2000]
//                        [--warmup 5] [--duration 20] [--drain 15] [--size 100] [--receipts false]
//                        [--workers <cores>] [--all-rates]
//   --receipts: every send asks for a confirmation (STOMP RECEIPT: ours after Kafka acknowledged, RabbitMQ after
//               routing; Socket.IO: an ack callback after the broadcast); off by default, as the three mean
//               different things
import { cpus } from 'node:os';
import { targetName } from './driver/capacity.js';
import { groups, type ProcessGroup } from './driver/cpu.js';
import { withDriver, type Driver } from './driver/driver.js';
import { printRateTable, rateRowJson, runRateSteps, type RateStepRow, type RateStepsParams } from './driver/rate-steps.js';
import { stepFlags } from './fanout.js';
import { Flags, RUN_ID, appendResults, commandLine, fmt, printTable, progress, warnForeignServers, withServers } from './lib.js';
import { ensureRabbitWebStomp } from './peers/rabbitmq.js';
import { startSocketIoServer } from './peers/socketio.js';
import { createWorld, ourClients, rabbitClients, serverEnv, socketIoClients, type World } from './rooms.js';

const TARGETS = ['ours', 'rabbitmq', 'socketio'] as const;
export type Target = (typeof TARGETS)[number];

export async function run(args: string[]): Promise<void> {
  const f = new Flags(args, ['targets', 'instances', 'rooms', 'members', 'rates', 'warmup', 'duration', 'drain', 'size', 'receipts', 'workers'], ['all-rates']);
  const p = { ...targetFlags(f, [1]), ...stepFlags(f, false) };
  const { rows, foreign } = await runTargets(p);
  printRateTable('peers', rows);
  printRatios(rows);
  appendResults('peers', { ...p, command: commandLine('peers', args), runId: RUN_ID, foreignServers: [...foreign] }, rows.map(rateRowJson));
}

export interface TargetParams {
  targets: Target[];
  /** Instance counts ours runs with (each a configuration of its own: "ours", "ours x2"). */
  instances: number[];
  members: number;
  workers: number;
}

/** --targets, --instances, --members, --workers (shared with the capacity scenario). */
export function targetFlags(f: Flags, instancesDefault: number[]): TargetParams {
  const targets = f
    .str('targets', TARGETS.join(','))
    .split(',')
    .map((t) => t.trim()) as Target[];
  for (const t of targets) if (!TARGETS.includes(t)) throw new Error(`--targets: unknown target ${t} (known: ${TARGETS.join(',')})`);
  return { targets, instances: f.list('instances', instancesDefault), members: f.int('members', 10, 2), workers: f.int('workers', cpus().length) };
}

/** Every target's rate steps, one driver for all: ours (per instance count), then RabbitMQ, then Socket.IO. */
export async function runTargets(p: TargetParams & RateStepsParams): Promise<{ rows: RateStepRow[]; foreign: Set<string> }> {
  progress(
    `${p.targets.join(', ')}${p.targets.includes('ours') ? ` (ours with ${p.instances.join(' and ')} instance(s))` : ''}; ` +
      `${p.rooms} rooms x ${p.members} members, one sender per room; rates ${p.rates.join(',')} msgs/s; ` +
      `${p.warmupS}+${p.durationS} s per step; ${p.workers} driver worker(s)${p.maxP99Ms ? `; a target stops after a step with p99 > ${p.maxP99Ms} ms or any loss` : ''}`,
  );
  const rows: RateStepRow[] = [];
  const foreign = new Set<string>();
  const infra = (): ProcessGroup[] => [groups.kafka(), groups.postgres(), groups.redis()];
  // One set of users and rooms (in the shared database) for every instance count.
  let world: World | null = null;
  await withDriver({ workers: p.workers }, async (driver: Driver) => {
    const driverGroup = groups.pids('driver', () => [process.pid, ...driver.pids]);
    for (const target of p.targets) {
      if (target === 'ours') {
        for (const n of p.instances) {
          await withServers(
            n,
            `peers${n}`,
            async (servers) => {
              for (const id of await warnForeignServers(servers)) foreign.add(id);
              world ??= await createWorld(servers[0]!, p.rooms, p.members, 'peers');
              const cpu = [groups.pids('app', () => servers.map((s) => s.proc.pid)), ...infra(), driverGroup];
              rows.push(...(await runRateSteps(driver, { target, instances: n }, ourClients(world, servers, driver.size), p, cpu)));
            },
            { env: serverEnv(Math.max(...p.rates) / p.rooms) },
          );
        }
      } else if (target === 'rabbitmq') {
        const rabbit = await ensureRabbitWebStomp(progress);
        try {
          const cpu = [groups.rabbitmq(), ...infra(), driverGroup];
          rows.push(...(await runRateSteps(driver, { target, instances: 1 }, rabbitClients(rabbit.url, p.rooms, p.members, driver.size), p, cpu)));
        } finally {
          await rabbit.restore();
        }
      } else {
        const server = await startSocketIoServer();
        progress(`socket.io reference server on ${server.url} (pid ${server.pid})`);
        try {
          const cpu = [groups.pids('socketio', () => [server.pid]), ...infra(), driverGroup];
          rows.push(...(await runRateSteps(driver, { target, instances: 1 }, socketIoClients(server.url, p.rooms, p.members, driver.size), p, cpu)));
        } finally {
          await server.stop();
        }
      }
    }
  });
  return { rows, foreign };
}

/** Server-side CPU of a row: the target's own process group (app / rabbitmq / socketio). */
export function targetCpuUs(r: RateStepRow): number {
  const own = r.target === 'ours' ? 'app' : r.target;
  return r.cpuUsPerDelivery[own] ?? NaN;
}

function printRatios(rows: readonly RateStepRow[]): void {
  const ours = new Map(rows.filter((r) => r.target === 'ours' && r.instances === 1).map((r) => [r.rate, r]));
  const out: Array<Array<string | number>> = [];
  for (const r of rows) {
    const o = ours.get(r.rate);
    const ratio = (a: number, b: number | undefined) => (o && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${fmt(a / b, 2)}x` : '-');
    out.push([
      targetName(r),
      r.rate,
      fmt(r.step.deliveriesPerSec, 0),
      ratio(r.step.deliveriesPerSec, o?.step.deliveriesPerSec),
      `${fmt(r.step.latency.p50)} / ${fmt(r.step.latency.p99)} / ${fmt(r.step.latency.max)}`,
      ratio(r.step.latency.p99, o?.step.latency.p99),
      fmt(targetCpuUs(r), 1),
      ratio(targetCpuUs(r), o ? targetCpuUs(o) : undefined),
      fmt(r.cpuUsPerDelivery.machine!, 1),
      ratio(r.cpuUsPerDelivery.machine!, o?.cpuUsPerDelivery.machine),
    ]);
  }
  printTable(
    'peers: each target against ours at the same rate (server CPU = app / beam.smp / socket.io process; all = every process on the machine)',
    ['target', 'rate msg/s', 'deliv/s', 'vs ours', 'p50 / p99 / max ms', 'p99 vs ours', 'server µs/deliv', 'vs ours', 'all µs/deliv', 'vs ours'],
    out,
  );
}
