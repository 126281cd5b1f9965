// One local Apache Kafka KRaft node (broker + controller in one JVM), run from Apache Kafka's own jars (Maven
// Central) with the local JDK — no Docker. Used for the single default node (scripts/stack-lib.mjs) and for the
// nodes of a local replicated cluster (scripts/stack/kafka-cluster.mjs, fault tests).
//
// Layout under .stack/kafka/ (gitignored):
//   jars/<version>/           copy-dependencies of scripts/kafka/pom.xml for that Kafka version (+ lib.sha256)
//   node-<port>/              one node: server.properties, version, data/, logs/server.log, kafka.out, kafka.pid
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { ROOT, STACK_DIR, StackError, defaultLog, pidAlive, pidIs, readPidFile, requireTool, run, stopPid, tail } from './proc.mjs';

export const KAFKA_DIR = path.join(STACK_DIR, 'kafka');
export const KAFKA_POM = path.join(ROOT, 'scripts', 'kafka', 'pom.xml');

/** The project's Kafka line (compose's apache/kafka tag agrees; test/integration/compose.test.ts checks it). */
export const DEFAULT_KAFKA_VERSION = '4.4.0';
/** The older line kept working: CI runs the Kafka-facing suites against it too (scripts/test.mjs). */
export const LEGACY_KAFKA_VERSION = '3.9.1';

/**
 * The broker's heap, committed in full from the start, as Kafka's own start script does (-Xms = -Xmx). With -Xmx
 * alone, G1 kept the heap small (138-210 MiB committed, the young generation 18-90 MiB) and, at 1,000 msgs/s, paused
 * 2-28 times (20-177 ms in all) per 15 s window, against 1-2 times (9-16 ms) with the heap committed
 * (PERF_RESULT.md, round 9).
 */
const HEAP = { single: '-Xms512m -Xmx512m', cluster: '-Xms320m -Xmx320m' };

/**
 * What differs between Kafka lines: 4.x logs through log4j2 and needs Java 17 for its broker; 3.x logs through
 * reload4j (log4j 1.x) and runs on Java 11.
 */
export function kafkaLine(version) {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(version ?? '');
  if (!m) throw new StackError(`KAFKA_VERSION "${version}" is not a version like ${DEFAULT_KAFKA_VERSION}`);
  const major = Number(m[1]);
  if (major < 3 || (major === 3 && Number(m[2]) < 7)) throw new StackError(`Kafka ${version} is too old here (3.7 or newer: KRaft combined nodes)`);
  return major >= 4
    ? { version, major, minJava: 17, logArg: `-Dlog4j2.configurationFile=${path.join(ROOT, 'scripts', 'kafka', 'log4j2.properties')}`, mvnArgs: [] }
    : {
        version,
        major,
        minJava: 11,
        logArg: `-Dlog4j.configuration=${new URL(`file://${path.join(ROOT, 'scripts', 'kafka', 'log4j.properties')}`).href}`,
        mvnArgs: ['-Dkafka.logging=reload4j'],
      };
}

/** The Kafka version asked for (KAFKA_VERSION), else the project's default. */
export function requestedKafkaVersion(env = process.env) {
  const v = env.KAFKA_VERSION?.trim();
  return v ? kafkaLine(v).version : DEFAULT_KAFKA_VERSION;
}

function jarsDir(version) {
  return path.join(KAFKA_DIR, 'jars', version);
}

/** The class path of `version`'s broker jars (the broker, ClusterProbe.java and the kafka-floor bench run on it). */
export function jarsClassPath(version) {
  return `${jarsDir(version)}${path.sep}*`;
}

function jarsHash(version) {
  return createHash('sha256').update(fs.readFileSync(KAFKA_POM)).update(version).digest('hex');
}

function jarsReady(version) {
  try {
    const jars = fs.readdirSync(jarsDir(version));
    return jars.includes(`kafka_2.13-${version}.jar`) && fs.readFileSync(path.join(jarsDir(version), 'lib.sha256'), 'utf8').trim() === jarsHash(version);
  } catch {
    return false;
  }
}

/** Broker jars of `version` in .stack/kafka/jars/<version> (Maven copy-dependencies); cached by the pom's hash. */
export function ensureKafkaJars({ version = DEFAULT_KAFKA_VERSION, log = defaultLog } = {}) {
  const line = kafkaLine(version);
  if (jarsReady(version)) return false;
  const mvn = requireTool('mvn', 'to fetch the Kafka broker jars from Maven Central (first run, or after scripts/kafka/pom.xml changed)');
  const dir = jarsDir(version);
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  log(`kafka: fetching Kafka ${version} broker jars with Maven (scripts/kafka/pom.xml → .stack/kafka/jars/${version}) ...`);
  const t0 = Date.now();
  run(mvn, ['-q', '-B', '-f', KAFKA_POM, `-Dkafka.version=${version}`, ...line.mvnArgs, 'dependency:copy-dependencies', `-DoutputDirectory=${tmp}`], {
    what: 'mvn dependency:copy-dependencies',
    timeoutMs: 15 * 60_000,
  });
  const jars = fs.existsSync(tmp) ? fs.readdirSync(tmp).filter((f) => f.endsWith('.jar')) : [];
  if (!jars.includes(`kafka_2.13-${version}.jar`)) throw new StackError(`mvn copy-dependencies produced no kafka_2.13-${version}.jar in ${tmp}`);
  fs.writeFileSync(path.join(tmp, 'lib.sha256'), jarsHash(version) + '\n');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.renameSync(tmp, dir);
  log(`kafka: ${jars.length} jars fetched in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return true;
}

/** The folder of the node listening on `port`. */
export function nodeDir(port) {
  return path.join(KAFKA_DIR, `node-${port}`);
}

const fmtHost = (x) => (x.includes(':') ? `[${x}]` : x);

/**
 * server.properties of a combined broker+controller KRaft node. One node (the default): replication 1. A cluster
 * (`voters` lists every node): replication 3, `min.insync.replicas` 2 — an acks=all write survives one node loss and
 * is refused (not lost) with two down — and no unclean leader election (a lagging replica never becomes leader).
 */
export function kafkaServerProperties({ host = '127.0.0.1', port = 9092, nodeId = 1, voters, dataDir = path.join(nodeDir(port), 'data') } = {}) {
  const h = host === 'localhost' || host === '' || host === '0.0.0.0' ? '127.0.0.1' : host;
  const quorum = voters ?? [{ id: nodeId, host: h, port }];
  const replicas = Math.min(3, quorum.length);
  const minIsr = replicas >= 3 ? 2 : 1;
  return `# Written by scripts/stack/kafka-node.mjs on every start; edit the script, not this file.
process.roles=broker,controller
node.id=${nodeId}
controller.quorum.voters=${quorum.map((v) => `${v.id}@${fmtHost(v.host)}:${v.port + 1}`).join(',')}
listeners=PLAINTEXT://${fmtHost(h)}:${port},CONTROLLER://${fmtHost(h)}:${port + 1}
advertised.listeners=PLAINTEXT://${fmtHost(h)}:${port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=${dataDir}

num.network.threads=3
num.io.threads=4
num.recovery.threads.per.data.dir=1
num.partitions=1
default.replication.factor=${replicas}
min.insync.replicas=${minIsr}
unclean.leader.election.enable=false
offsets.topic.replication.factor=${replicas}
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=${replicas}
transaction.state.log.min.isr=${minIsr}
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=3000
auto.create.topics.enable=false
delete.topic.enable=true
# A node that went away is noticed in seconds, not the 18 s default (local faults, fast failover).
broker.session.timeout.ms=6000
broker.heartbeat.interval.ms=1000
replica.lag.time.max.ms=10000

# Keep everything written during development/benchmarks for 30 days (tests read topics from the beginning).
log.retention.hours=720
log.retention.bytes=-1
log.segment.bytes=268435456
log.retention.check.interval.ms=300000
# The cleaner (compacted __consumer_offsets) would otherwise take 128 MiB of the heap.
log.cleaner.dedupe.buffer.size=33554432
`;
}

/** Every property as a map (compose checks compare them with its KAFKA_* environment). */
export function parseProperties(text) {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('=') && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

function jvmArgs({ version, dir, heap }) {
  return [
    ...heap.split(/\s+/),
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    kafkaLine(version).logArg,
    `-Dkafka.logs.dir=${path.join(dir, 'logs')}`,
    '-cp',
    jarsClassPath(version),
  ];
}

export function findJava(version) {
  const fromHome = process.env.JAVA_HOME && path.join(process.env.JAVA_HOME, 'bin', 'java');
  const java = fromHome && fs.existsSync(fromHome) ? fromHome : requireTool('java', 'to run the local Kafka broker (a JDK 17 or newer)');
  const r = spawnSync(java, ['-version'], { encoding: 'utf8' });
  const m = /version "(\d+)(?:\.(\d+))?/.exec(`${r.stderr}${r.stdout}`);
  const major = m ? (m[1] === '1' ? Number(m[2]) : Number(m[1])) : null;
  const need = kafkaLine(version).minJava;
  if (major !== null && major < need) throw new StackError(`Kafka ${version} needs Java ${need} or newer; ${java} is Java ${major} (set JAVA_HOME)`);
  return java;
}

/** A new KRaft cluster id (Kafka's StorageTool random-uuid). */
export function newClusterId({ java, version }) {
  return run(java, [...jvmArgs({ version, dir: KAFKA_DIR, heap: '-Xmx128m' }), 'kafka.tools.StorageTool', 'random-uuid'], {
    what: 'kafka StorageTool random-uuid',
  })
    .trim()
    .split('\n')
    .pop()
    .trim();
}

function metaClusterId(dataDir) {
  try {
    const m = /^cluster\.id=(.+)$/m.exec(fs.readFileSync(path.join(dataDir, 'meta.properties'), 'utf8'));
    return m ? m[1].trim() : null;
  } catch {
    return null;
  }
}

/**
 * Writes the node's server.properties and formats its storage once. Data written by another Kafka version, or
 * by another cluster, is wiped first (it is local development data): a 4.x log folder cannot be read by 3.x.
 */
export function prepareNode({ java, version, port, host, nodeId, voters, clusterId, log = defaultLog }) {
  const dir = nodeDir(port);
  const dataDir = path.join(dir, 'data');
  const versionFile = path.join(dir, 'version');
  let existing = metaClusterId(dataDir);
  const formattedBy = fs.existsSync(versionFile) ? fs.readFileSync(versionFile, 'utf8').trim() : null;
  if (existing && (formattedBy !== version || (clusterId && existing !== clusterId))) {
    log(`kafka: node ${port}: data formatted by Kafka ${formattedBy ?? '(unknown)'} for cluster ${existing}; starting it afresh for Kafka ${version}`);
    fs.rmSync(dataDir, { recursive: true, force: true });
    existing = null;
  }
  fs.mkdirSync(dataDir, { recursive: true });
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const props = path.join(dir, 'server.properties');
  fs.writeFileSync(props, kafkaServerProperties({ host, port, nodeId, voters, dataDir }));
  if (existing) return { dir, props, clusterId: existing };
  const id = clusterId ?? newClusterId({ java, version });
  log(`kafka: node ${port}: formatting storage (Kafka ${version}, cluster ${id})`);
  run(java, [...jvmArgs({ version, dir, heap: '-Xmx128m' }), 'kafka.tools.StorageTool', 'format', '-t', id, '-c', props, '--ignore-formatted'], {
    what: 'kafka StorageTool format',
  });
  fs.writeFileSync(versionFile, version + '\n');
  return { dir, props, clusterId: id };
}

/** Starts the prepared node as a detached JVM; resolves its pid and a liveness check. Logs go to its folder. */
export function startNode({ java, version, port, heap = HEAP.single }) {
  const dir = nodeDir(port);
  const outFile = path.join(dir, 'kafka.out');
  const out = fs.openSync(outFile, 'a');
  fs.writeSync(out, `\n=== ${new Date().toISOString()} starting Kafka ${version} node on ${port} ===\n`);
  let exited = null;
  const child = spawn(java, [...jvmArgs({ version, dir, heap }), 'kafka.Kafka', path.join(dir, 'server.properties')], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  child.on('error', (e) => (exited = e.message));
  child.on('exit', (code, signal) => (exited = `exit ${code ?? signal}`));
  child.unref();
  if (!child.pid) throw new StackError(`could not start java: ${exited ?? 'no pid'}`);
  fs.writeFileSync(path.join(dir, 'kafka.pid'), `${child.pid}\n`);
  return { pid: child.pid, alive: () => exited === null && pidAlive(child.pid), exitReason: () => exited };
}

export const CLUSTER_HEAP = HEAP.cluster;

/** pid of the running node on `port` that we started (its pid file names a live kafka.Kafka), or null. */
export function nodePid(port) {
  const pid = readPidFile(path.join(nodeDir(port), 'kafka.pid'));
  return pid && pidIs(pid, 'kafka.Kafka') ? pid : null;
}

/** Stops the node on `port` if we started it (SIGTERM: a controlled shutdown moves its leaderships first). */
export async function stopNode(port, { log, termWaitMs = 30_000 } = {}) {
  const pid = nodePid(port);
  fs.rmSync(path.join(nodeDir(port), 'kafka.pid'), { force: true });
  if (!pid) return 'not running';
  return stopPid(pid, { termWaitMs, log, name: `kafka node ${port}` });
}

export function nodeLogTail(port, lines = 40) {
  const dir = nodeDir(port);
  const parts = [];
  for (const f of [path.join(dir, 'logs', 'server.log'), path.join(dir, 'kafka.out')]) {
    const t = tail(f, lines);
    if (t) parts.push(`--- tail of ${path.relative(ROOT, f)} ---\n${t}`);
  }
  return parts.length ? parts.join('\n') : `(no broker log found under ${path.relative(ROOT, dir)})`;
}
