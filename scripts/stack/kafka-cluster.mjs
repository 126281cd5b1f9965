// A local Kafka of N KRaft nodes (each broker + controller, own ports and data folder): the default single node,
// or three replicated nodes (`npm run stack:up -- --kafka-nodes 3`, and the fault tests). Node i listens on
// basePort + 2i with its controller on the next port, so one node is 9092 (+9093) and three are 9092, 9094, 9096.
import fs from 'node:fs';
import path from 'node:path';

import { ensureTopics, waitForKafka } from './kafka-admin.mjs';
import {
  CLUSTER_HEAP,
  DEFAULT_KAFKA_VERSION,
  ensureKafkaJars,
  findJava,
  jarsClassPath,
  newClusterId,
  nodeDir,
  nodeLogTail,
  nodePid,
  prepareNode,
  startNode,
  stopNode,
} from './kafka-node.mjs';
import { ROOT, StackError, defaultLog, pidAlive, pollUntil, run } from './proc.mjs';

export const DEFAULT_KAFKA_PORT = 9092;

export function clusterPorts(basePort, nodes) {
  return Array.from({ length: nodes }, (_, i) => basePort + 2 * i);
}

export function brokersOf(ports, host = '127.0.0.1') {
  return ports.map((p) => `${host}:${p}`);
}

function formattedState(port) {
  const dir = nodeDir(port);
  try {
    const meta = fs.readFileSync(path.join(dir, 'data', 'meta.properties'), 'utf8');
    return { clusterId: /^cluster\.id=(.+)$/m.exec(meta)?.[1]?.trim() ?? null, version: fs.readFileSync(path.join(dir, 'version'), 'utf8').trim() };
  } catch {
    return { clusterId: null, version: null };
  }
}

/**
 * Starts the nodes on `ports` that are not running yet (one cluster: shared cluster id and quorum), waits until
 * every broker is registered, and creates the application topics (replication 3 on three nodes). Reuses the data
 * of an earlier start of the same nodes and version (`fresh`: starts from empty folders). Resolves { brokers, pids, started, version, ms }.
 */
export async function startKafkaNodes({ ports, host = '127.0.0.1', version = DEFAULT_KAFKA_VERSION, log = defaultLog, topics = true, fresh = false }) {
  const t0 = Date.now();
  const java = findJava(version);
  ensureKafkaJars({ version, log });
  if (fresh) {
    // A test's own cluster starts empty: no records or groups of an earlier run.
    await stopKafkaNodes({ ports, log });
    for (const port of ports) fs.rmSync(path.join(nodeDir(port), 'data'), { recursive: true, force: true });
  }
  const states = ports.map(formattedState);
  const reuse = states.every((s) => s.clusterId && s.clusterId === states[0].clusterId && s.version === version);
  const running = ports.filter((p) => nodePid(p) !== null);
  if (running.length > 0 && !reuse) {
    throw new StackError(`Kafka nodes on ${running.join(', ')} run with other data or another version; stop them first (npm run stack:down)`);
  }
  const clusterId = reuse ? states[0].clusterId : newClusterId({ java, version });
  const voters = ports.map((port, i) => ({ id: i + 1, host, port }));
  const heap = ports.length > 1 ? CLUSTER_HEAP : undefined;
  const started = [];
  for (const [i, port] of ports.entries()) {
    if (nodePid(port) !== null) continue;
    prepareNode({ java, version, port, host, nodeId: i + 1, voters: ports.length > 1 ? voters : undefined, clusterId, log });
    const node = startNode({ java, version, port, heap });
    started.push({ port, ...node });
    log(`kafka: node ${i + 1} starting (Kafka ${version}, ${host}:${port}, controller ${port + 1}); log .stack/kafka/node-${port}/logs/server.log`);
  }
  const brokers = brokersOf(ports, host);
  await waitForKafka({
    brokers,
    expectBrokers: ports.length,
    log,
    isAlive: () => started.every((n) => n.alive()),
    logTail: () => started.map((n) => nodeLogTail(n.port)).join('\n'),
  });
  if (topics) await ensureTopics({ brokers, log });
  const ms = Date.now() - t0;
  log(`kafka: ${ports.length === 1 ? 'node' : `${ports.length}-node cluster`} ready at ${brokers.join(',')} in ${(ms / 1000).toFixed(1)} s`);
  return { brokers, pids: ports.map(nodePid), started: started.map((n) => n.port), version, ms };
}

/** Stops the nodes on `ports` that we started (SIGTERM, then SIGKILL after 30 s). */
export async function stopKafkaNodes({ ports, log = defaultLog }) {
  await Promise.all(
    ports.map(async (port) => {
      const how = await stopNode(port, { log });
      if (how !== 'not running') log(`kafka: node ${port} ${how === 'killed' ? 'did not stop in 30 s; killed' : 'stopped'}`);
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Faults: what the fault tests do to the nodes they started (by pid, never anyone else's process).

/** SIGKILL of the node on `port` (no controlled shutdown: its leaderships move only when the cluster notices). */
export async function killNode(port) {
  const pid = nodePid(port);
  if (!pid) throw new StackError(`no Kafka node of ours runs on ${port}`);
  process.kill(pid, 'SIGKILL');
  await pollUntil(async () => !pidAlive(pid), { timeoutMs: 10_000, intervalMs: 50 });
  fs.rmSync(path.join(nodeDir(port), 'kafka.pid'), { force: true });
}

/** Starts a stopped node again with its data and properties (same version, same cluster). */
export function restartNode(port, { version = DEFAULT_KAFKA_VERSION, heap = CLUSTER_HEAP } = {}) {
  if (nodePid(port)) throw new StackError(`Kafka node ${port} is still running`);
  return startNode({ java: findJava(version), version, port, heap });
}

function probe(version, brokers, args) {
  const java = findJava(version);
  const jars = jarsClassPath(version);
  const out = run(java, ['-Xmx128m', '-cp', jars, path.join(ROOT, 'scripts', 'kafka', 'ClusterProbe.java'), args[0], brokers.join(','), ...args.slice(1)], {
    what: `ClusterProbe ${args[0]}`,
    timeoutMs: 60_000,
  });
  return JSON.parse(out.trim().split('\n').pop());
}

/** Node id of the active KRaft controller (the quorum leader). */
export function quorumLeader(brokers, { version = DEFAULT_KAFKA_VERSION } = {}) {
  return probe(version, brokers, ['quorum-leader']).leader;
}

/** Node id of each consumer group's coordinator. */
export function groupCoordinators(brokers, groups, { version = DEFAULT_KAFKA_VERSION } = {}) {
  return probe(version, brokers, ['group-coordinators', groups.join(',')]);
}
