// What the connection benches (connect-storm, idle) share: one instance (cluster mode) with users signed up and
// driver workers started, one STOMP client per connection (tokens round-robin over the users, sockets spread over
// local source addresses so one address' ephemeral ports never run out), and CPU sampled for the app and the driver.
import type { Account } from '../test/support/api.js';
import type { ServerProc } from '../test/support/cluster.js';
import { CpuSampler, groups } from './driver/cpu.js';
import { withDriver, type Driver } from './driver/driver.js';
import type { ClientSpec, Transport } from './driver/ipc.js';
import { warnForeignServers, withServers } from './lib.js';
import { createUsers } from './rooms.js';

export interface ConnectionParams {
  connections: number;
  users: number;
  transport: Transport;
  workers: number;
  /** Client sockets bind 127.0.0.2 .. 127.0.0.<n+1>, round-robin. */
  sourceAddresses: number;
}

/** Checks --transport: the connection benches speak STOMP over WebSocket or TCP. */
export function checkTransport(transport: string): void {
  if (transport !== 'ws' && transport !== 'tcp') throw new Error('--transport must be ws or tcp');
}

/** Starts one instance, signs up `p.users` users and `p.workers` driver workers, and runs `body` with them. */
export async function withConnectionBench(
  name: string,
  p: ConnectionParams,
  body: (server: ServerProc, users: Account[], driver: Driver) => Promise<void>,
): Promise<void> {
  await withServers(1, name, async ([server]) => {
    await warnForeignServers([server!]);
    const users = await createUsers(server!, p.users, name);
    await withDriver({ workers: p.workers }, (driver) => body(server!, users, driver));
  });
}

/** One client spec per connection, with `extra` (e.g. heart-beats) for every one. */
export function connectionSpecs(server: ServerProc, users: readonly Account[], p: ConnectionParams, extra: Partial<ClientSpec> = {}): ClientSpec[] {
  return Array.from({ length: p.connections }, (_, i) => ({
    id: i,
    transport: p.transport,
    url: p.transport === 'ws' ? server.wsUrl : `tcp://127.0.0.1:${server.tcpPort}`,
    localAddress: `127.0.0.${2 + (i % p.sourceAddresses)}`,
    connectHeaders: { Authorization: `Bearer ${users[i % users.length]!.token}` },
    subscribe: [],
    ...extra,
  }));
}

/** CPU of the instance ("app") and of the load generator ("driver": this process and its workers). */
export function appAndDriverCpu(server: ServerProc, driver: Driver): CpuSampler {
  return new CpuSampler([groups.pids('app', () => [server.proc.pid]), groups.pids('driver', () => [process.pid, ...driver.pids])]);
}
