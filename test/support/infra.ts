// Real infrastructure faults for tests: restart the actual Redis, PostgreSQL and Kafka processes.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, readdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { waitFor } from './cluster.js';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function pidsMatching(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes(needle)) out.push(Number(d));
    } catch {
      // process went away
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Redis restart as on this machine: its data is not persisted (`--save ""`), so everything in it is lost. */
export async function restartRedis(port = 6379): Promise<{ downMs: number }> {
  const t0 = Date.now();
  try {
    execFileSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave'], { stdio: 'ignore' });
  } catch {
    // redis-cli exits non-zero when the server closes the connection while shutting down
  }
  await waitFor(async () => !(await portOpen(port)), 10_000, 'redis down');
  const dir = '/var/lib/redis';
  const args = ['--daemonize', 'yes', '--bind', '127.0.0.1', '-::1', '--port', String(port), '--save', '', '--appendonly', 'no'];
  try {
    execFileSync('redis-server', [...args, '--dir', dir, '--logfile', '/var/log/redis/ci.log'], { stdio: 'ignore' });
  } catch {
    execFileSync('redis-server', [...args, '--dir', '/tmp'], { stdio: 'ignore' });
  }
  await waitFor(() => portOpen(port), 10_000, 'redis up');
  return { downMs: Date.now() - t0 };
}

/** PostgreSQL restart through the cluster tooling (a real stop and start of the server). */
export async function restartPostgres(): Promise<{ downMs: number }> {
  const t0 = Date.now();
  const version = readdirSync('/etc/postgresql')[0]!;
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart', '-m', 'fast'], { stdio: 'ignore' });
  await waitFor(() => portOpen(5432), 30_000, 'postgres up');
  return { downMs: Date.now() - t0 };
}

/**
 * Stops the Kafka broker (whoever started it) with SIGTERM and starts it again with the same
 * command line and working directory, waiting until it accepts connections.
 */
export async function restartKafka(port = 9092, downForMs = 0): Promise<{ downMs: number }> {
  // The broker of this port (scripts/stack/kafka-node.mjs runs it with node-<port>/server.properties); other nodes
  // (a 3-node cluster of a fault test, the 3.9 broker of the compatibility run) are left alone.
  const brokers = pidsMatching('kafka.Kafka');
  const pid =
    brokers.find((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`node-${port}/server.properties`)) ??
    (brokers.length === 1 ? brokers[0] : undefined);
  if (!pid) throw new Error(`no kafka.Kafka process found for port ${port} (${brokers.length} brokers running)`);
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const cwd = readlinkSync(`/proc/${pid}/cwd`);
  const t0 = Date.now();
  process.kill(pid, 'SIGTERM');
  await waitFor(() => !alive(pid), 60_000, 'kafka broker exit', 100);
  if (downForMs > 0) await new Promise((r) => setTimeout(r, downForMs));
  const child = spawn(argv[0]!, argv.slice(1), { cwd, detached: true, stdio: 'ignore' });
  child.unref();
  // Keep `npm run stack:down` able to stop the new broker.
  if (existsSync(`${cwd}/kafka.pid`)) writeFileSync(`${cwd}/kafka.pid`, `${child.pid}\n`);
  await waitFor(() => portOpen(port), 90_000, 'kafka up', 200);
  return { downMs: Date.now() - t0 };
}
