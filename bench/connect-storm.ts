// Connect storm: N WebSocket (or TCP) STOMP CONNECTs with valid tokens (users created beforehand), all opened at
// the same instant by the driver's workers against one instance. Time to CONNECTED is measured from that common
// instant (so the driver's own lateness in opening sockets is included) and from each socket's start; errors are
// counted by reason; the app's CPU over the storm is reported per connection.
//
// npm run bench -- connect-storm [--connections 1000] [--users 50] [--transport ws] [--repeats 1]
//                                [--timeout 30] [--workers <cores>] [--source-addresses 4]
//   --users: distinct accounts; their tokens are reused round-robin (signup is slow on purpose)
//   --source-addresses: spread client sockets over 127.0.0.2 .. 127.0.0.<n+1>
import { cpus } from 'node:os';
import { appAndDriverCpu, checkTransport, connectionSpecs, withConnectionBench } from './connections.js';
import { epochNow, type Transport } from './driver/ipc.js';
import { ensureOpenFiles } from './driver/processes.js';
import { Flags, RUN_ID, appendResults, commandLine, fmt, loadText, printTable, progress, sleep } from './lib.js';

interface StormRow {
  repeat: number;
  connections: number;
  connected: number;
  failed: number;
  errors: Record<string, number>;
  toConnectedMs: Record<string, number>;
  handshakeMs: Record<string, number>;
  allConnectedInMs: number;
  appCpuSeconds: number;
  appCpuUsPerConnection: number;
  machinePct: number;
  driverCpuSeconds: number;
}

export async function run(args: string[]): Promise<void> {
  const f = new Flags(args, ['connections', 'users', 'transport', 'repeats', 'timeout', 'workers', 'source-addresses']);
  const p = {
    connections: f.int('connections', 1000),
    users: f.int('users', 50),
    transport: f.str('transport', 'ws') as Transport,
    repeats: f.int('repeats', 1),
    timeoutS: f.num('timeout', 30, 1),
    workers: f.int('workers', cpus().length),
    sourceAddresses: f.int('source-addresses', 4),
  };
  checkTransport(p.transport);
  await ensureOpenFiles(p.connections + 1024);
  progress(
    `connect-storm: ${p.connections} simultaneous ${p.transport === 'ws' ? 'WebSocket' : 'TCP'} STOMP CONNECTs against 1 instance, ${p.users} users, ${p.repeats} repeat(s), ${p.workers} driver worker(s)`,
  );
  const rows: StormRow[] = [];
  await withConnectionBench('storm', p, async (server, users, driver) => {
    const specs = connectionSpecs(server, users, p);
    for (let repeat = 1; repeat <= p.repeats; repeat++) {
      const cpu = appAndDriverCpu(server, driver);
      const startAt = epochNow() + 1000;
      progress(`storm ${repeat}: ${p.connections} CONNECTs at once`);
      cpu.begin();
      const r = await driver.connect(specs, { startAt, concurrency: p.connections, timeoutMs: p.timeoutS * 1000 });
      const c = cpu.end();
      const app = c.groups.find((g) => g.name === 'app')!;
      const row: StormRow = {
        repeat,
        connections: p.connections,
        connected: r.connected,
        failed: r.failed,
        errors: r.errors,
        toConnectedMs: { ...r.connect },
        handshakeMs: { ...r.handshake },
        allConnectedInMs: r.connect.max,
        appCpuSeconds: app.cpuSeconds,
        appCpuUsPerConnection: r.connected ? (app.cpuSeconds * 1e6) / r.connected : NaN,
        machinePct: c.machinePct,
        driverCpuSeconds: c.groups.find((g) => g.name === 'driver')!.cpuSeconds,
      };
      rows.push(row);
      progress(
        `storm ${repeat}: ${r.connected}/${p.connections} CONNECTED, ${r.failed} failed${r.failed ? ` ${JSON.stringify(r.errors)}` : ''}; ` +
          `to CONNECTED p50/p99/max ${fmt(r.connect.p50)}/${fmt(r.connect.p99)}/${fmt(r.connect.max)} ms; app CPU ${fmt(app.cpuSeconds, 2)} s; ${loadText()}`,
      );
      await driver.closeClients();
      if (repeat < p.repeats) await sleep(3000);
    }
  });
  printStormTable(p, rows);
  appendResults(
    'connect-storm',
    { ...p, command: commandLine('connect-storm', args), runId: RUN_ID },
    rows.map((r) => ({ ...r })),
  );
}

function printStormTable(p: { connections: number; transport: Transport }, rows: StormRow[]): void {
  printTable(
    `connect-storm: ${p.connections} simultaneous ${p.transport} STOMP CONNECTs, 1 instance`,
    [
      'run',
      'connections',
      'CONNECTED',
      'errors',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'max ms',
      'handshake p50/p99 ms',
      'app CPU s',
      'app µs/conn',
      'driver CPU s',
      'machine %',
    ],
    rows.map((r) => [
      r.repeat,
      r.connections,
      r.connected,
      r.failed,
      fmt(r.toConnectedMs.p50!),
      fmt(r.toConnectedMs.p90!),
      fmt(r.toConnectedMs.p99!),
      fmt(r.toConnectedMs.max!),
      `${fmt(r.handshakeMs.p50!)} / ${fmt(r.handshakeMs.p99!)}`,
      fmt(r.appCpuSeconds, 2),
      fmt(r.appCpuUsPerConnection, 0),
      fmt(r.driverCpuSeconds, 2),
      fmt(r.machinePct, 0),
    ]),
  );
}
