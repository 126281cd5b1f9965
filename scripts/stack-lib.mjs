// Local infrastructure for development and tests: PostgreSQL, Redis and a real single-node Kafka (KRaft)
// run from Apache Kafka's own jars (Maven Central) with the local JDK — no Docker.
//
// Plain Node ESM so it runs before anything is compiled. Used by scripts/stack.mjs (CLI: up|down|status)
// and scripts/test.mjs (`npm test`). Everything it creates lives in <repo>/.stack (gitignored):
//   .stack/started.json         which services `up` started itself (only those are stopped by `down`)
//   .stack/kafka/lib/           broker jars (copy-dependencies of scripts/kafka/pom.xml), lib.sha256 = pom hash
//   .stack/kafka/server.properties, cluster-id, data/, logs/server.log, kafka.out, kafka.pid
//   .stack/redis/               fallback dir/log for a Redis started by us when /var/lib/redis is unusable
//
// Environment: DATABASE_URL, REDIS_URL, KAFKA_BROKERS (same defaults as the app, see API.md).

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import kafkajs from 'kafkajs';

// Node 24 loads the .ts directly (type stripping): the same fix the app installs, so no 1 ms timer loop and no
// TimeoutNegativeWarning from an admin client here either.
import { fixKafkajsRequestQueue } from '../src/pipeline/kafkajs-request-queue-fix.ts';
import pg from 'pg';
import { Redis } from 'ioredis';

const { Kafka, logLevel: KafkaLogLevel } = kafkajs;
fixKafkajsRequestQueue();

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const STACK_DIR = path.join(ROOT, '.stack');
export const KAFKA_DIR = path.join(STACK_DIR, 'kafka');
export const REDIS_FALLBACK_DIR = path.join(STACK_DIR, 'redis');
export const KAFKA_POM = path.join(ROOT, 'scripts', 'kafka', 'pom.xml');
export const KAFKA_LOG4J = path.join(ROOT, 'scripts', 'kafka', 'log4j.properties');
const STARTED_FILE = path.join(STACK_DIR, 'started.json');

const K = {
  lib: path.join(KAFKA_DIR, 'lib'),
  libHash: path.join(KAFKA_DIR, 'lib.sha256'),
  props: path.join(KAFKA_DIR, 'server.properties'),
  clusterId: path.join(KAFKA_DIR, 'cluster-id'),
  data: path.join(KAFKA_DIR, 'data'),
  logs: path.join(KAFKA_DIR, 'logs'),
  out: path.join(KAFKA_DIR, 'kafka.out'),
  pid: path.join(KAFKA_DIR, 'kafka.pid'),
  lock: path.join(KAFKA_DIR, 'start.lock'),
};

export const DEFAULTS = Object.freeze({
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/chat',
  REDIS_URL: 'redis://127.0.0.1:6379',
  KAFKA_BROKERS: '127.0.0.1:9092',
});

/** Topics the application needs; created idempotently by `up` (replication factor 1). */
export const TOPICS = Object.freeze([
  { topic: 'chat.messages', numPartitions: 6 },
  { topic: 'chat.read-receipts', numPartitions: 3 },
  { topic: 'chat.messages.dlt', numPartitions: 1 },
]);

export const KAFKA_START_TIMEOUT_MS = 90_000;
const KAFKA_HEAP = '-Xmx512m';

/** An error whose message is meant for the user as is (no stack trace needed). */
export class StackError extends Error {
  constructor(message) {
    super(message);
    this.name = 'StackError';
  }
}

export const defaultLog = (msg) => console.log(`[stack] ${msg}`);

// ---------------------------------------------------------------------------------------------------------
// configuration and small helpers

/** Service addresses from the environment (DATABASE_URL, REDIS_URL, KAFKA_BROKERS) with the app's defaults. */
export function resolveConfig(env = process.env) {
  const pick = (k) => (env[k] && env[k].trim() !== '' ? env[k].trim() : DEFAULTS[k]);
  const databaseUrl = pick('DATABASE_URL');
  const redisUrl = pick('REDIS_URL');
  const kafkaBrokers = pick('KAFKA_BROKERS')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  let db;
  try {
    db = new URL(databaseUrl);
  } catch {
    throw new StackError(`DATABASE_URL is not a valid URL: ${databaseUrl}`);
  }
  let redis;
  try {
    redis = new URL(redisUrl);
  } catch {
    throw new StackError(`REDIS_URL is not a valid URL: ${redisUrl}`);
  }
  if (kafkaBrokers.length === 0) throw new StackError('KAFKA_BROKERS is empty');
  return {
    databaseUrl,
    database: {
      host: stripBrackets(db.hostname) || '127.0.0.1',
      port: Number(db.port || 5432),
      name: decodeURIComponent(db.pathname.replace(/^\//, '')) || 'postgres',
    },
    redisUrl,
    redis: { host: stripBrackets(redis.hostname) || '127.0.0.1', port: Number(redis.port || 6379) },
    kafkaBrokers,
    kafka: kafkaBrokers.map(parseHostPort),
  };
}

function stripBrackets(h) {
  return h.replace(/^\[/, '').replace(/\]$/, '');
}

function parseHostPort(s) {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(s);
  if (!m) throw new StackError(`KAFKA_BROKERS entry "${s}" is not host:port`);
  return { host: m[1], port: Number(m[2]) };
}

export function isLocalHost(host) {
  return ['127.0.0.1', 'localhost', '::1', '0.0.0.0', '::', ''].includes(host.toLowerCase());
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves true when a TCP connection to host:port succeeds within timeoutMs. */
export function tcpCheck(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok) => {
      sock.removeAllListeners();
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Absolute path of an executable on PATH, or null. */
export function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

function requireTool(cmd, why) {
  const p = which(cmd);
  if (!p) throw new StackError(`\`${cmd}\` is not on PATH — it is needed ${why}`);
  return p;
}

export function pidAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return e.code === 'EPERM';
  }
  // A zombie (exited, not yet reaped) counts as dead.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
  } catch {
    /* no procfs: trust kill(0) */
  }
  return true;
}

function pidCmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return null;
  }
}

/** pid is alive and (where /proc tells) its command line contains `needle` — guards against pid reuse. */
export function pidIs(pid, needle) {
  if (!pidAlive(pid)) return false;
  const cmd = pidCmdline(pid);
  return cmd === null || cmd.includes(needle);
}

export function readPidFile(file) {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

export function tail(file, lines = 40) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n').trimEnd();
  } catch {
    return null;
  }
}

function readStarted() {
  try {
    return JSON.parse(fs.readFileSync(STARTED_FILE, 'utf8'));
  } catch {
    return {};
  }
}

function updateStarted(service, value) {
  fs.mkdirSync(STACK_DIR, { recursive: true });
  const s = readStarted();
  if (value === undefined) delete s[service];
  else s[service] = value;
  fs.writeFileSync(STARTED_FILE, JSON.stringify(s, null, 2) + '\n');
}

/** Runs a command to completion, capturing output; throws StackError with the output on failure. */
function run(cmd, args, { what, cwd = ROOT, env = process.env, timeoutMs } = {}) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new StackError(`${what ?? cmd} failed to run: ${r.error.message}`);
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-40).join('\n');
    throw new StackError(`${what ?? cmd} failed (exit ${r.status ?? r.signal}):\n${out}`);
  }
  return r.stdout ?? '';
}

/** Polls `check` (async → truthy) until it succeeds or the deadline passes. Returns the value or null. */
export async function pollUntil(check, { timeoutMs, intervalMs = 250, onTick, tickEveryMs = 5000 }) {
  const start = Date.now();
  let nextTick = start + tickEveryMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    const now = Date.now();
    if (now - start >= timeoutMs) return null;
    if (onTick && now >= nextTick) {
      onTick(now - start);
      nextTick += tickEveryMs;
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------------------
// PostgreSQL

async function pgQuery(url, sql, params = []) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.query(sql, params);
  } finally {
    await client.end().catch(() => {});
  }
}

function maintenanceUrl(databaseUrl) {
  const u = new URL(databaseUrl);
  u.pathname = '/postgres';
  return u.toString();
}

/** Resolves null when PostgreSQL accepts a connection, else the error. */
async function postgresProbe(databaseUrl) {
  try {
    await pgQuery(maintenanceUrl(databaseUrl), 'SELECT 1');
    return null;
  } catch (e) {
    return e;
  }
}

function pgClusters() {
  try {
    return fs
      .readdirSync('/etc/postgresql')
      .filter((v) => fs.existsSync(`/etc/postgresql/${v}/main`))
      .sort((a, b) => Number(b) - Number(a));
  } catch {
    return [];
  }
}

function pgClusterPort(version) {
  try {
    const conf = fs.readFileSync(`/etc/postgresql/${version}/main/postgresql.conf`, 'utf8');
    const m = /^\s*port\s*=\s*(\d+)/m.exec(conf);
    return m ? Number(m[1]) : 5432;
  } catch {
    return 5432;
  }
}

/** Makes PostgreSQL reachable at DATABASE_URL's host/port, starting the local cluster when needed. */
export async function ensurePostgres({ log = defaultLog, config = resolveConfig() } = {}) {
  const { host, port } = config.database;
  const where = `${host}:${port}`;
  let err = await postgresProbe(config.databaseUrl);
  if (!err) {
    log(`postgres: reachable at ${where}`);
    return { started: false };
  }
  const refused = !(await tcpCheck(host, port));
  if (!refused) {
    throw new StackError(`PostgreSQL at ${where} answers but refuses the connection: ${err.message}`);
  }
  if (!isLocalHost(host)) {
    throw new StackError(`PostgreSQL is not reachable at ${where} (DATABASE_URL) and is not local, so it cannot be started`);
  }
  const ctl = which('pg_ctlcluster');
  const versions = pgClusters();
  if (!ctl || versions.length === 0) {
    throw new StackError(
      `PostgreSQL is not reachable at ${where} and not installed (no \`pg_ctlcluster\` on PATH / no cluster in /etc/postgresql); ` +
        'install PostgreSQL or point DATABASE_URL at a running server',
    );
  }
  const version = versions.find((v) => pgClusterPort(v) === port);
  if (!version) {
    throw new StackError(
      `PostgreSQL is not reachable at ${where} and no local cluster is configured for port ${port} ` +
        `(clusters: ${versions.map((v) => `${v}/main:${pgClusterPort(v)}`).join(', ')}); fix DATABASE_URL or start PostgreSQL`,
    );
  }
  log(`postgres: not reachable at ${where}; starting cluster ${version}/main`);
  run(ctl, ['--skip-systemctl-redirect', version, 'main', 'start'], { what: `pg_ctlcluster ${version} main start` });
  updateStarted('postgres', { version, cluster: 'main', port, startedAt: new Date().toISOString() });
  const ok = await pollUntil(async () => !(err = await postgresProbe(config.databaseUrl)), {
    timeoutMs: 30_000,
    intervalMs: 300,
    onTick: (ms) => log(`postgres: still waiting (${Math.round(ms / 1000)} s)`),
  });
  if (!ok) throw new StackError(`PostgreSQL ${version}/main started but ${where} is still unreachable after 30 s: ${err?.message}`);
  log(`postgres: started ${version}/main at ${where}`);
  return { started: true };
}

/** Creates the database named in DATABASE_URL when it is missing. Returns true when it created it. */
export async function ensureDatabase({ log = defaultLog, config = resolveConfig() } = {}) {
  const name = config.database.name;
  const admin = maintenanceUrl(config.databaseUrl);
  const r = await pgQuery(admin, 'SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (r.rowCount > 0) {
    log(`postgres: database "${name}" exists`);
    return false;
  }
  try {
    await pgQuery(admin, `CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } catch (e) {
    if (e.code === '42P04') return false; // created concurrently
    throw new StackError(`cannot create database "${name}": ${e.message}`);
  }
  log(`postgres: created database "${name}"`);
  return true;
}

/** `npm run migrate` (src/store/migrate-cli.ts) against DATABASE_URL; its output is forwarded to log. */
export async function runMigrations({ log = defaultLog, config = resolveConfig() } = {}) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const env = { ...process.env, DATABASE_URL: config.databaseUrl };
  await new Promise((resolve, reject) => {
    const child = spawn(npm, ['run', '--silent', 'migrate'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = [];
    const onData = (buf) => {
      for (const line of buf.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        lines.push(line);
        log(`migrate: ${line.replace(/^\[migrate\]\s*/, '')}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => reject(new StackError(`npm run migrate failed to start: ${e.message}`)));
    child.on('close', (code, signal) =>
      code === 0
        ? resolve()
        : reject(new StackError(`npm run migrate failed (exit ${code ?? signal}):\n${lines.slice(-20).join('\n')}`)),
    );
  });
}

// ---------------------------------------------------------------------------------------------------------
// Redis

async function redisPing(url) {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1500,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG' ? null : new Error('unexpected PING reply');
  } catch (e) {
    return e;
  } finally {
    client.disconnect();
  }
}

/** Makes Redis answer PING at REDIS_URL, starting a local redis-server when needed. */
export async function ensureRedis({ log = defaultLog, config = resolveConfig() } = {}) {
  const { host, port } = config.redis;
  const where = `${host}:${port}`;
  let err = await redisPing(config.redisUrl);
  if (!err) {
    log(`redis: reachable at ${where}`);
    return { started: false };
  }
  if (await tcpCheck(host, port)) throw new StackError(`Redis at ${where} answers but PING fails: ${err.message}`);
  if (!isLocalHost(host)) throw new StackError(`Redis is not reachable at ${where} (REDIS_URL) and is not local, so it cannot be started`);
  const server = which('redis-server');
  if (!server) {
    throw new StackError(`Redis is not reachable at ${where} and not installed (no \`redis-server\` on PATH); install Redis or point REDIS_URL at a running server`);
  }
  fs.mkdirSync(REDIS_FALLBACK_DIR, { recursive: true });
  const pidfile = path.join(REDIS_FALLBACK_DIR, 'redis.pid');
  const base = ['--daemonize', 'yes', '--bind', '127.0.0.1', '-::1', '--port', String(port), '--save', '', '--appendonly', 'no', '--pidfile', pidfile];
  const attempts = [
    { dir: '/var/lib/redis', logfile: '/var/log/redis/ci.log' },
    { dir: REDIS_FALLBACK_DIR, logfile: path.join(REDIS_FALLBACK_DIR, 'redis.log') },
  ];
  for (const a of attempts) {
    log(`redis: not reachable at ${where}; starting redis-server (dir ${a.dir})`);
    const r = spawnSync(server, [...base, '--dir', a.dir, '--logfile', a.logfile], { encoding: 'utf8', timeout: 15_000 });
    if (r.status === 0) {
      const ok = await pollUntil(async () => !(err = await redisPing(config.redisUrl)), { timeoutMs: 10_000, intervalMs: 200 });
      if (ok) {
        updateStarted('redis', { port, pidfile, dir: a.dir, logfile: a.logfile, startedAt: new Date().toISOString() });
        log(`redis: started at ${where}`);
        return { started: true };
      }
    }
    const why = (r.error?.message ?? `${r.stderr ?? ''}${r.stdout ?? ''}`.trim()) || tail(a.logfile, 5) || err?.message;
    log(`redis: start with dir ${a.dir} failed${why ? `: ${why}` : ''}`);
  }
  throw new StackError(`Redis could not be started at ${where} (see .stack/redis/redis.log)`);
}

// ---------------------------------------------------------------------------------------------------------
// Kafka

function kafkaClient(brokers, { connectionTimeout = 3000, requestTimeout = 10_000, retries = 0 } = {}) {
  return new Kafka({
    clientId: 'stack',
    brokers,
    logLevel: KafkaLogLevel.NOTHING,
    connectionTimeout,
    requestTimeout,
    retry: { retries, initialRetryTime: 200, maxRetryTime: 2000 },
  });
}

/** One attempt: resolves the cluster description when a kafkajs admin can connect, else null. */
async function kafkaProbe(brokers) {
  const admin = kafkaClient(brokers, { connectionTimeout: 1500, requestTimeout: 5000 }).admin();
  try {
    await admin.connect();
    const c = await admin.describeCluster();
    return c.brokers.length > 0 ? c : null;
  } catch {
    return null;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Waits until a kafkajs admin can connect to KAFKA_BROKERS and the cluster has a broker.
 * Logs progress every few seconds. `isAlive` (optional) lets it fail fast when the broker process died.
 * Returns the elapsed milliseconds; throws StackError (with the broker log tail when it is ours) on timeout.
 */
export async function waitForKafka({
  log = defaultLog,
  config = resolveConfig(),
  timeoutMs = KAFKA_START_TIMEOUT_MS,
  isAlive,
  showLog = true,
} = {}) {
  const start = Date.now();
  let died = false;
  const ok = await pollUntil(
    async () => {
      if (isAlive && !isAlive()) return (died = true);
      return kafkaProbe(config.kafkaBrokers);
    },
    {
      timeoutMs,
      intervalMs: 500,
      tickEveryMs: 3000,
      onTick: (ms) => log(`kafka: waiting for ${config.kafkaBrokers.join(',')} ... ${Math.round(ms / 1000)} s`),
    },
  );
  if (ok && !died) return Date.now() - start;
  const what = died ? 'the Kafka broker process exited during start-up' : `Kafka did not become ready within ${Math.round(timeoutMs / 1000)} s`;
  throw new StackError(showLog ? `${what}\n${kafkaLogTail()}` : `${what} (KAFKA_BROKERS=${config.kafkaBrokers.join(',')})`);
}

export function kafkaLogTail(lines = 40) {
  const parts = [];
  for (const f of [path.join(K.logs, 'server.log'), K.out]) {
    const t = tail(f, lines);
    if (t) parts.push(`--- tail of ${path.relative(ROOT, f)} ---\n${t}`);
  }
  return parts.length ? parts.join('\n') : '(no broker log found under .stack/kafka)';
}

function sha256File(file) {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function javaMajorVersion(java) {
  const r = spawnSync(java, ['-version'], { encoding: 'utf8' });
  const m = /version "(\d+)(?:\.(\d+))?/.exec(`${r.stderr}${r.stdout}`);
  if (!m) return null;
  return m[1] === '1' ? Number(m[2]) : Number(m[1]);
}

function libReady() {
  try {
    const jars = fs.readdirSync(K.lib).filter((f) => f.endsWith('.jar'));
    return jars.some((f) => f.startsWith('kafka_2.13-')) && fs.readFileSync(K.libHash, 'utf8').trim() === sha256File(KAFKA_POM);
  } catch {
    return false;
  }
}

/** Broker jars in .stack/kafka/lib (mvn copy-dependencies of scripts/kafka/pom.xml); cached by the pom's hash. */
export function ensureKafkaJars({ log = defaultLog } = {}) {
  if (libReady()) {
    log('kafka: broker jars cached in .stack/kafka/lib');
    return false;
  }
  const mvn = requireTool('mvn', 'to fetch the Kafka broker jars from Maven Central (first run, or after scripts/kafka/pom.xml changed)');
  fs.mkdirSync(KAFKA_DIR, { recursive: true });
  const tmp = path.join(KAFKA_DIR, `lib.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  log('kafka: fetching broker jars with Maven (scripts/kafka/pom.xml → .stack/kafka/lib) ...');
  const t0 = Date.now();
  run(mvn, ['-q', '-B', '-f', KAFKA_POM, 'dependency:copy-dependencies', `-DoutputDirectory=${tmp}`], {
    what: 'mvn dependency:copy-dependencies',
    timeoutMs: 15 * 60_000,
  });
  const jars = fs.existsSync(tmp) ? fs.readdirSync(tmp).filter((f) => f.endsWith('.jar')) : [];
  if (!jars.some((f) => f.startsWith('kafka_2.13-'))) {
    throw new StackError(`mvn copy-dependencies produced no kafka_2.13 jar in ${tmp}`);
  }
  fs.rmSync(K.lib, { recursive: true, force: true });
  fs.renameSync(tmp, K.lib);
  fs.writeFileSync(K.libHash, sha256File(KAFKA_POM) + '\n');
  log(`kafka: ${jars.length} jars fetched in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return true;
}

/** server.properties for a combined broker+controller (KRaft) node 1 listening on host:port (controller port+1). */
export function kafkaServerProperties({ host = '127.0.0.1', port = 9092 } = {}) {
  const h = host === 'localhost' || host === '' || host === '0.0.0.0' ? '127.0.0.1' : host;
  const controllerPort = port + 1;
  const fmt = (x) => (x.includes(':') ? `[${x}]` : x);
  return `# Written by scripts/stack-lib.mjs on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${fmt(h)}:${controllerPort}
listeners=PLAINTEXT://${fmt(h)}:${port},CONTROLLER://${fmt(h)}:${controllerPort}
advertised.listeners=PLAINTEXT://${fmt(h)}:${port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=${K.data}

num.network.threads=3
num.io.threads=4
num.recovery.threads.per.data.dir=1
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=3000
auto.create.topics.enable=false
delete.topic.enable=true

# Keep everything written during development/benchmarks for 30 days (tests read topics from the beginning).
log.retention.hours=720
log.retention.bytes=-1
log.segment.bytes=268435456
log.retention.check.interval.ms=300000
# The cleaner (compacted __consumer_offsets) would otherwise take 128 MiB of the 512 MiB heap.
log.cleaner.dedupe.buffer.size=33554432
`;
}

function kafkaJvmArgs() {
  return [
    KAFKA_HEAP,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=${new URL(`file://${KAFKA_LOG4J}`).href}`,
    `-Dkafka.logs.dir=${K.logs}`,
    '-cp',
    `${K.lib}${path.sep}*`,
  ];
}

function readMetaClusterId() {
  try {
    const m = /^cluster\.id=(.+)$/m.exec(fs.readFileSync(path.join(K.data, 'meta.properties'), 'utf8'));
    return m ? m[1].trim() : null;
  } catch {
    return null;
  }
}

/** Formats .stack/kafka/data once (KRaft). The cluster id is kept in .stack/kafka/cluster-id. */
function formatKafkaStorage({ log, java }) {
  const existing = readMetaClusterId();
  if (existing) {
    if (!fs.existsSync(K.clusterId)) fs.writeFileSync(K.clusterId, existing + '\n');
    return false;
  }
  let clusterId = fs.existsSync(K.clusterId) ? fs.readFileSync(K.clusterId, 'utf8').trim() : '';
  if (!clusterId) {
    clusterId = run(java, [...kafkaJvmArgs(), 'kafka.tools.StorageTool', 'random-uuid'], { what: 'kafka StorageTool random-uuid' })
      .trim()
      .split('\n')
      .pop()
      .trim();
    fs.writeFileSync(K.clusterId, clusterId + '\n');
  }
  log(`kafka: formatting storage .stack/kafka/data (cluster id ${clusterId})`);
  run(java, [...kafkaJvmArgs(), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', K.props, '--ignore-formatted'], {
    what: 'kafka StorageTool format',
  });
  return true;
}

function ourKafkaPid() {
  const pid = readPidFile(K.pid);
  return pid && pidIs(pid, 'kafka.Kafka') ? pid : null;
}

function acquireLock(file) {
  for (let i = 0; i < 2; i++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      const holder = readPidFile(file);
      if (holder && holder !== process.pid && pidAlive(holder)) return false;
      fs.rmSync(file, { force: true }); // stale
    }
  }
  return false;
}

/**
 * Makes Kafka reachable at KAFKA_BROKERS: reuses a broker that already answers, otherwise starts the local
 * single-node KRaft broker from .stack/kafka (fetching jars / formatting storage on first use).
 */
export async function ensureKafka({ log = defaultLog, config = resolveConfig() } = {}) {
  const brokers = config.kafkaBrokers;
  const answering = (await Promise.all(config.kafka.map((b) => tcpCheck(b.host, b.port)))).some(Boolean);
  const running = ourKafkaPid();
  const runningPort = readStarted().kafka?.port ?? 9092;
  // Our broker counts only when KAFKA_BROKERS points at it (it may still be starting, port not open yet).
  const ours = running && config.kafka.some((b) => isLocalHost(b.host) && b.port === runningPort) ? running : null;
  if (answering || ours) {
    const ms = await waitForKafka({ log, config, isAlive: ours ? () => pidAlive(ours) : undefined, showLog: Boolean(ours) });
    log(`kafka: reachable at ${brokers.join(',')}${ours ? ` (our broker, pid ${ours})` : ''}${ms > 1500 ? ` after ${(ms / 1000).toFixed(1)} s` : ''}`);
    return { started: false, pid: ours };
  }
  const { host, port } = config.kafka[0];
  if (!isLocalHost(host)) {
    throw new StackError(`Kafka is not reachable at ${brokers.join(',')} (KAFKA_BROKERS) and ${host} is not local, so it cannot be started`);
  }
  if (running) {
    throw new StackError(
      `the stack's Kafka broker (pid ${running}) listens on port ${runningPort}, not on ${brokers.join(',')}; run \`npm run stack:down\` first`,
    );
  }
  fs.mkdirSync(KAFKA_DIR, { recursive: true });
  if (!acquireLock(K.lock)) {
    log('kafka: another `stack up` is starting the broker; waiting for it');
    await waitForKafka({ log, config });
    return { started: false };
  }
  try {
    const javaHome = process.env.JAVA_HOME && path.join(process.env.JAVA_HOME, 'bin', 'java');
    const java = javaHome && fs.existsSync(javaHome) ? javaHome : requireTool('java', 'to run the local Kafka broker (JDK/JRE 11 or newer)');
    const major = javaMajorVersion(java);
    if (major !== null && major < 11) throw new StackError(`Kafka needs Java 11 or newer; \`java\` on PATH is ${major}`);
    ensureKafkaJars({ log });
    fs.mkdirSync(K.data, { recursive: true });
    fs.mkdirSync(K.logs, { recursive: true });
    fs.writeFileSync(K.props, kafkaServerProperties({ host, port }));
    formatKafkaStorage({ log, java });

    log(`kafka: starting broker (KRaft, ${host}:${port}, controller ${port + 1}, ${KAFKA_HEAP}); log .stack/kafka/logs/server.log`);
    const t0 = Date.now();
    const out = fs.openSync(K.out, 'a');
    fs.writeSync(out, `\n=== ${new Date().toISOString()} starting broker ===\n`);
    let exited = null;
    const child = spawn(java, [...kafkaJvmArgs(), 'kafka.Kafka', K.props], {
      cwd: KAFKA_DIR,
      detached: true,
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    child.on('error', (e) => (exited = e.message));
    child.on('exit', (code, signal) => (exited = `exit ${code ?? signal}`));
    child.unref();
    if (!child.pid) throw new StackError(`could not start java: ${exited ?? 'no pid'}`);
    fs.writeFileSync(K.pid, String(child.pid) + '\n');
    updateStarted('kafka', { pid: child.pid, host, port, startedAt: new Date().toISOString() });

    try {
      await waitForKafka({ log, config, isAlive: () => exited === null && pidAlive(child.pid) });
    } catch (e) {
      if (exited === null && pidAlive(child.pid)) {
        log('kafka: broker did not become ready; stopping it');
        await stopPid(child.pid, { termWaitMs: 10_000 });
      }
      fs.rmSync(K.pid, { force: true });
      updateStarted('kafka', undefined);
      throw e;
    }
    const ms = Date.now() - t0;
    log(`kafka: broker ready at ${host}:${port} in ${(ms / 1000).toFixed(1)} s (pid ${child.pid})`);
    return { started: true, pid: child.pid, startMs: ms };
  } finally {
    fs.rmSync(K.lock, { force: true });
  }
}

/** Creates the application topics (idempotent; adds partitions when an existing topic has fewer) and waits for leaders. */
export async function ensureTopics({ log = defaultLog, config = resolveConfig(), topics = TOPICS, timeoutMs = 30_000 } = {}) {
  const admin = kafkaClient(config.kafkaBrokers, { retries: 5 }).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length) {
      await admin.createTopics({
        topics: missing.map((t) => ({ topic: t.topic, numPartitions: t.numPartitions, replicationFactor: 1 })),
        waitForLeaders: true,
        timeout: timeoutMs,
      });
      log(`kafka: created topics ${missing.map((t) => `${t.topic}(${t.numPartitions})`).join(', ')}`);
    }
    const present = topics.filter((t) => existing.has(t.topic));
    if (present.length) {
      const md = await admin.fetchTopicMetadata({ topics: present.map((t) => t.topic) });
      for (const t of present) {
        const have = md.topics.find((x) => x.name === t.topic)?.partitions.length ?? 0;
        if (have < t.numPartitions) {
          await admin.createPartitions({ topicPartitions: [{ topic: t.topic, count: t.numPartitions }] });
          log(`kafka: ${t.topic}: partitions ${have} → ${t.numPartitions}`);
        } else if (have > t.numPartitions) {
          log(`kafka: WARNING ${t.topic} has ${have} partitions (expected ${t.numPartitions}); leaving it`);
        }
      }
    }
    // Wait until every partition of every topic has a leader in the metadata.
    let last = '';
    const ok = await pollUntil(
      async () => {
        try {
          const md = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
          return topics.every((t) => {
            const parts = md.topics.find((x) => x.name === t.topic)?.partitions ?? [];
            return parts.length >= t.numPartitions && parts.every((p) => p.leader >= 0 && p.partitionErrorCode === 0);
          });
        } catch (e) {
          last = e.message;
          return false;
        }
      },
      { timeoutMs, intervalMs: 200, onTick: (ms) => log(`kafka: waiting for topic metadata (${Math.round(ms / 1000)} s)`) },
    );
    if (!ok) throw new StackError(`Kafka topic metadata not available within ${timeoutMs / 1000} s${last ? `: ${last}` : ''}`);
    log(`kafka: topics ready: ${topics.map((t) => `${t.topic}(${t.numPartitions})`).join(', ')}`);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------------------
// up / down / status

/**
 * Makes PostgreSQL (+ database + migrations), Redis and Kafka (+ topics) available. Idempotent.
 * Resolves { postgres, redis, kafka, ms }; throws StackError naming what is missing or broken.
 */
export async function stackUp({ log = defaultLog, env = process.env, migrate = true } = {}) {
  const t0 = Date.now();
  const config = resolveConfig(env);
  fs.mkdirSync(STACK_DIR, { recursive: true });
  const postgres = await ensurePostgres({ log, config });
  await ensureDatabase({ log, config });
  if (migrate) await runMigrations({ log, config });
  const redis = await ensureRedis({ log, config });
  const kafka = await ensureKafka({ log, config });
  await ensureTopics({ log, config });
  const ms = Date.now() - t0;
  const started = [postgres.started && 'postgres', redis.started && 'redis', kafka.started && 'kafka'].filter(Boolean);
  log(`up in ${(ms / 1000).toFixed(1)} s — ${started.length ? `started: ${started.join(', ')}` : 'everything was already running'}`);
  return { postgres, redis, kafka, ms, config };
}

export async function stopPid(pid, { termWaitMs = 30_000, log, name = `pid ${pid}` } = {}) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch (e) {
    if (e.code === 'ESRCH') return 'gone';
    throw e;
  }
  const gone = await pollUntil(async () => !pidAlive(pid), {
    timeoutMs: termWaitMs,
    intervalMs: 200,
    onTick: log ? (ms) => log(`${name}: waiting for exit (${Math.round(ms / 1000)} s)`) : undefined,
  });
  if (gone) return 'terminated';
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* exited meanwhile */
  }
  await pollUntil(async () => !pidAlive(pid), { timeoutMs: 5000, intervalMs: 100 });
  return 'killed';
}

/** Stops only what stackUp started (Kafka via .stack/kafka/kafka.pid; Redis/PostgreSQL per .stack/started.json). */
export async function stackDown({ log = defaultLog } = {}) {
  const started = readStarted();

  const kpid = readPidFile(K.pid);
  if (kpid && pidIs(kpid, 'kafka.Kafka')) {
    log(`kafka: stopping broker pid ${kpid} (SIGTERM, up to 30 s)`);
    const how = await stopPid(kpid, { termWaitMs: 30_000, log, name: 'kafka' });
    log(`kafka: broker ${how === 'killed' ? 'did not stop in 30 s; killed (SIGKILL)' : 'stopped'}`);
  } else {
    log(kpid ? `kafka: pid ${kpid} from kafka.pid is not running` : 'kafka: not started by stack; leaving it');
  }
  fs.rmSync(K.pid, { force: true });
  updateStarted('kafka', undefined);

  if (started.redis) {
    const { pidfile, port } = started.redis;
    const pid = pidfile ? readPidFile(pidfile) : null;
    if (pid && pidIs(pid, 'redis-server')) {
      log(`redis: stopping redis-server pid ${pid} (port ${port})`);
      await stopPid(pid, { termWaitMs: 15_000, log, name: 'redis' });
      log('redis: stopped');
    } else {
      log('redis: the redis-server started by stack is no longer running');
    }
    updateStarted('redis', undefined);
  } else {
    log('redis: not started by stack; leaving it');
  }

  if (started.postgres) {
    const { version, cluster } = started.postgres;
    const ctl = which('pg_ctlcluster');
    if (ctl) {
      log(`postgres: stopping cluster ${version}/${cluster}`);
      run(ctl, ['--skip-systemctl-redirect', version, cluster, 'stop'], { what: `pg_ctlcluster ${version} ${cluster} stop` });
      log('postgres: stopped');
    }
    updateStarted('postgres', undefined);
  } else {
    log('postgres: not started by stack; leaving it');
  }
}

/** Reports each service's state; resolves an object { postgres, redis, kafka } of { up, detail }. */
export async function stackStatus({ log = defaultLog, env = process.env } = {}) {
  const config = resolveConfig(env);
  const started = readStarted();
  const res = {};

  const pgErr = await postgresProbe(config.databaseUrl);
  let pgDetail = pgErr ? `DOWN (${pgErr.message || pgErr.code})` : 'up';
  if (!pgErr) {
    const r = await pgQuery(maintenanceUrl(config.databaseUrl), 'SELECT 1 FROM pg_database WHERE datname = $1', [config.database.name]).catch(() => null);
    pgDetail += r?.rowCount ? `, database "${config.database.name}" exists` : `, database "${config.database.name}" MISSING`;
  }
  pgDetail += started.postgres ? `, started by stack (${started.postgres.version}/${started.postgres.cluster})` : '';
  res.postgres = { up: !pgErr, detail: pgDetail };
  log(`postgres  ${config.database.host}:${config.database.port}  ${pgDetail}`);

  const rErr = await redisPing(config.redisUrl);
  const rDetail = (rErr ? `DOWN (${rErr.message})` : 'up') + (started.redis ? ', started by stack' : '');
  res.redis = { up: !rErr, detail: rDetail };
  log(`redis     ${config.redis.host}:${config.redis.port}  ${rDetail}`);

  const kpid = ourKafkaPid();
  const cluster = await kafkaProbe(config.kafkaBrokers);
  let kDetail = cluster ? `up (cluster ${cluster.clusterId}, ${cluster.brokers.length} broker)` : 'DOWN';
  kDetail += kpid ? `, our broker pid ${kpid}` : ', not started by stack';
  if (cluster) {
    const admin = kafkaClient(config.kafkaBrokers).admin();
    try {
      await admin.connect();
      const names = new Set(await admin.listTopics());
      const md = await admin.fetchTopicMetadata({ topics: TOPICS.map((t) => t.topic).filter((t) => names.has(t)) });
      kDetail += `, topics: ${TOPICS.map((t) => {
        const n = md.topics.find((x) => x.name === t.topic)?.partitions.length;
        return n ? `${t.topic}(${n})` : `${t.topic}(MISSING)`;
      }).join(' ')}`;
    } catch (e) {
      kDetail += `, topics: ? (${e.message})`;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }
  kDetail += libReady() ? '; jars cached' : '; jars not fetched';
  res.kafka = { up: Boolean(cluster), pid: kpid, detail: kDetail };
  log(`kafka     ${config.kafkaBrokers.join(',')}  ${kDetail}`);
  return res;
}
