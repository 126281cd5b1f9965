// Server instances for a scenario, always stopped (also on Ctrl-C), and a check for other servers that share the
// consumer groups (and so the machine) while a scenario runs.
import { readSetting } from '../../src/config.js';
import { startServer, type ServerProc, type StartOptions } from '../../test/support/cluster.js';
import { progress } from './output.js';

const running = new Set<ServerProc>();
let handlersInstalled = false;

/** Servers started by withServers and not stopped yet (their signal handler exits once they are stopped). */
export const runningServerCount = (): number => running.size;

function installSignalHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping ${running.size} server(s)\n`);
      void Promise.allSettled([...running].map((s) => s.kill())).then(() => process.exit(130));
    });
  }
}

/** Starts `n` server instances (all roles, MODE=cluster), runs `fn`, and always stops them (SIGTERM, then SIGKILL). */
export async function withServers<T>(n: number, name: string, fn: (servers: ServerProc[]) => Promise<T>, opts: StartOptions = {}): Promise<T> {
  installSignalHandlers();
  const servers: ServerProc[] = [];
  try {
    for (let i = 0; i < n; i++) {
      // MODE=cluster: the real PostgreSQL, Redis and Kafka (API.md; the embedded mode is the default).
      const s = await startServer({
        ...opts,
        env: { MODE: 'cluster', ...opts.env },
        instanceId: `bench-${name}-${process.pid}-${String.fromCharCode(97 + i)}`,
      });
      servers.push(s);
      running.add(s);
      progress(`server ${s.instanceId} up on ${s.baseUrl} (log .stack/test-logs/${s.instanceId}.log)`);
    }
    return await fn(servers);
  } finally {
    await Promise.allSettled(
      servers.map(async (s) => {
        try {
          await s.stop();
        } catch {
          await s.kill();
        }
        running.delete(s);
      }),
    );
    if (servers.length) progress(`stopped ${servers.length} server(s)`);
  }
}

/**
 * Members of the server's consumer groups whose client id is not one of `ours` (e.g. servers left running by
 * a test run): they take partitions of chat.messages and share the machine, so results must mention them.
 */
export async function foreignGroupMembers(ours: readonly string[], brokers = readSetting('KAFKA_BROKERS')): Promise<string[]> {
  // Through our module: it installs the kafkajs fixes first (without them every broker connection spins a 1 ms
  // timer and Node 24 prints a TimeoutNegativeWarning).
  const { Kafka, logLevel } = await import('../../src/kafka/kafkajs.js');
  const admin = new Kafka({ clientId: 'bench-probe', brokers, logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    const { groups } = await admin.describeGroups(['chat-persist', 'chat-broadcast', 'chat-notify', 'chat-receipts']);
    const ids = new Set<string>();
    for (const g of groups) for (const m of g.members) if (!ours.some((o) => m.clientId === `chat-${o}`)) ids.add(m.clientId);
    return [...ids].sort();
  } catch {
    return [];
  } finally {
    // A probe: an admin that cannot disconnect cleanly has nothing left to tell.
    await admin.disconnect().catch(() => {});
  }
}

/** Prints a warning line when other servers share the consumer groups; returns their client ids. */
export async function warnForeignServers(servers: readonly ServerProc[]): Promise<string[]> {
  const foreign = await foreignGroupMembers(servers.map((s) => s.instanceId));
  if (foreign.length > 0) {
    progress(
      `WARNING: ${foreign.length} other server process(es) are in the chat consumer groups (${foreign.join(', ')}): they take partitions and CPU; figures are not from a quiet machine`,
    );
  }
  return foreign;
}
