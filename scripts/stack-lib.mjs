// Local infrastructure for development and tests: PostgreSQL, Redis and a real Kafka (KRaft: one node, or three
// replicated ones with --kafka-nodes 3) run from Apache Kafka's own jars (Maven Central) with the local JDK — no Docker.
//
// Plain Node ESM so it runs before anything is compiled. Used by scripts/stack.mjs (CLI: up|down|status)
// and scripts/test.mjs (`npm test`). Everything it creates lives in <repo>/.stack (gitignored):
//   .stack/started.json         which services `up` started itself (only those are stopped by `down`)
//   .stack/kafka/               Kafka jars per version and one folder per node (scripts/stack/kafka-node.mjs)
//   .stack/redis/               fallback dir/log for a Redis started by us when /var/lib/redis is unusable
//
// Environment: DATABASE_URL, REDIS_URL, KAFKA_BROKERS (the app's defaults: src/shared/defaults.ts), KAFKA_VERSION.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import pg from 'pg';
import { Redis } from 'ioredis';

import { SERVICE_DEFAULTS } from '../src/shared/defaults.ts';
import { TOPICS, brokerLine, ensureTopics as ensureTopicsAt, kafkaClient, kafkaProbe } from './stack/kafka-admin.mjs';
import { DEFAULT_KAFKA_PORT, brokersOf, clusterPorts, startKafkaNodes, stopKafkaNodes } from './stack/kafka-cluster.mjs';
import { KAFKA_DIR, kafkaServerProperties, nodePid, requestedKafkaVersion } from './stack/kafka-node.mjs';
import {
  ROOT,
  STACK_DIR,
  StackError,
  defaultLog,
  pidIs,
  pollUntil,
  readPidFile,
  readStarted,
  run,
  stopPid,
  tail,
  tcpCheck,
  updateStarted,
  which,
} from './stack/proc.mjs';

export { ROOT, STACK_DIR, StackError, TOPICS, defaultLog, kafkaServerProperties, tcpCheck, which };
export const REDIS_FALLBACK_DIR = path.join(STACK_DIR, 'redis');

// ---------------------------------------------------------------------------------------------------------
// configuration and small helpers

/** Service addresses from the environment (DATABASE_URL, REDIS_URL, KAFKA_BROKERS) with the app's defaults. */
export function resolveConfig(env = process.env) {
  const pick = (k) => (env[k] && env[k].trim() !== '' ? env[k].trim() : SERVICE_DEFAULTS[k]);
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
    /** false: KAFKA_BROKERS not given, so `--kafka-nodes 3` may choose the three default ports. */
    kafkaExplicit: Boolean(env.KAFKA_BROKERS?.trim()),
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
      code === 0 ? resolve() : reject(new StackError(`npm run migrate failed (exit ${code ?? signal}):\n${lines.slice(-20).join('\n')}`)),
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
    throw new StackError(
      `Redis is not reachable at ${where} and not installed (no \`redis-server\` on PATH); install Redis or point REDIS_URL at a running server`,
    );
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

/**
 * Makes Kafka reachable at KAFKA_BROKERS: reuses brokers that already answer (checking they are enough for
 * `nodes`, and of the requested Kafka line), otherwise starts `nodes` local KRaft nodes (scripts/stack/
 * kafka-cluster.mjs). Without KAFKA_BROKERS, three nodes listen on 9092, 9094 and 9096.
 */
export async function ensureKafka({ log = defaultLog, config = resolveConfig(), nodes = 1, version = requestedKafkaVersion() } = {}) {
  const ports = config.kafkaExplicit ? config.kafka.map((b) => b.port) : clusterPorts(DEFAULT_KAFKA_PORT, nodes);
  const brokers = config.kafkaExplicit ? config.kafkaBrokers : brokersOf(ports);
  const hosts = config.kafkaExplicit ? config.kafka : ports.map((port) => ({ host: '127.0.0.1', port }));
  const answering = (await Promise.all(hosts.map((b) => tcpCheck(b.host, b.port)))).some(Boolean);
  if (answering && ports.every((p) => nodePid(p) === null)) return reuseKafka({ log, brokers, hosts, nodes, version });
  if (!hosts.every((b) => isLocalHost(b.host))) {
    throw new StackError(`Kafka is not reachable at ${brokers.join(',')} (KAFKA_BROKERS) and it is not local, so it cannot be started`);
  }
  if (ports.length !== nodes) {
    throw new StackError(`KAFKA_BROKERS lists ${ports.length} brokers but --kafka-nodes is ${nodes}; list one host:port per node`);
  }
  fs.mkdirSync(KAFKA_DIR, { recursive: true });
  const lock = path.join(KAFKA_DIR, 'start.lock');
  if (!acquireLock(lock)) {
    log('kafka: another `stack up` is starting Kafka; waiting for it');
    await pollUntil(() => kafkaProbe(brokers), { timeoutMs: 120_000, intervalMs: 500 });
    return { started: false, brokers };
  }
  try {
    const r = await startKafkaNodes({ ports, version, log, topics: false });
    if (r.started.length) {
      // Nodes started earlier (another port set) stay recorded, so `down` stops them too.
      const earlier = (readStarted().kafka?.nodes ?? []).filter((n) => !ports.includes(n.port) && nodePid(n.port) !== null);
      const nodes = [...earlier, ...ports.map((port, i) => ({ port, pid: r.pids[i] }))];
      updateStarted('kafka', { version, brokers, nodes, startedAt: new Date().toISOString() });
    }
    return { started: r.started.length > 0, brokers, version, startMs: r.ms };
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/** Brokers someone else started: enough of them, and of the Kafka line asked for (4.x by default). */
async function reuseKafka({ log, brokers, hosts, nodes, version }) {
  const cluster = await pollUntil(() => kafkaProbe(brokers), { timeoutMs: 60_000, intervalMs: 500 });
  if (!cluster) throw new StackError(`Kafka at ${brokers.join(',')} accepts connections but does not answer as a cluster`);
  if (cluster.brokers.length < nodes) {
    throw new StackError(
      `Kafka at ${brokers.join(',')} has ${cluster.brokers.length} broker(s), ${nodes} asked for; stop it (npm run stack:down) or point KAFKA_BROKERS elsewhere`,
    );
  }
  const line = await brokerLine(hosts[0].host, hosts[0].port).catch(() => null);
  const wanted = Number(version.split('.')[0]);
  if (line !== null && line !== wanted) {
    throw new StackError(`Kafka at ${brokers.join(',')} is a ${line}.x broker but Kafka ${version} is asked for (KAFKA_VERSION); stop it or set KAFKA_VERSION`);
  }
  log(`kafka: reachable at ${brokers.join(',')} (${cluster.brokers.length} broker${cluster.brokers.length > 1 ? 's' : ''}${line ? `, Kafka ${line}.x` : ''})`);
  return { started: false, brokers };
}

function acquireLock(file) {
  for (let i = 0; i < 2; i++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      const holder = readPidFile(file);
      if (holder && holder !== process.pid && pidIs(holder, 'node')) return false;
      fs.rmSync(file, { force: true }); // stale
    }
  }
  return false;
}

/** Creates the application topics on KAFKA_BROKERS (replication 3 on a cluster of three or more). */
export function ensureTopics({ log = defaultLog, config = resolveConfig(), brokers = config.kafkaBrokers, ...rest } = {}) {
  return ensureTopicsAt({ brokers, log, ...rest });
}

// ---------------------------------------------------------------------------------------------------------
// up / down / status

/**
 * Makes PostgreSQL (+ database + migrations), Redis and Kafka (+ topics) available. Idempotent.
 * Resolves { postgres, redis, kafka, ms }; throws StackError naming what is missing or broken.
 */
export async function stackUp({ log = defaultLog, env = process.env, migrate = true, kafkaNodes = 1, kafkaVersion = requestedKafkaVersion(env) } = {}) {
  const t0 = Date.now();
  const config = resolveConfig(env);
  fs.mkdirSync(STACK_DIR, { recursive: true });
  const postgres = await ensurePostgres({ log, config });
  await ensureDatabase({ log, config });
  if (migrate) await runMigrations({ log, config });
  const redis = await ensureRedis({ log, config });
  const kafka = await ensureKafka({ log, config, nodes: kafkaNodes, version: kafkaVersion });
  await ensureTopics({ log, brokers: kafka.brokers });
  const ms = Date.now() - t0;
  const started = [postgres.started && 'postgres', redis.started && 'redis', kafka.started && 'kafka'].filter(Boolean);
  log(`up in ${(ms / 1000).toFixed(1)} s — ${started.length ? `started: ${started.join(', ')}` : 'everything was already running'}`);
  if (kafkaNodes > 1) log(`kafka: ${kafkaNodes} nodes; run the app with KAFKA_BROKERS=${kafka.brokers.join(',')}`);
  return { postgres, redis, kafka, ms, config: { ...config, kafkaBrokers: kafka.brokers } };
}

/** Stops only what stackUp started (per .stack/started.json). */
export async function stackDown({ log = defaultLog } = {}) {
  const started = readStarted();

  const nodes = started.kafka?.nodes ?? [];
  // A single broker started by an earlier version of this script (.stack/kafka/kafka.pid).
  const legacy = readPidFile(path.join(KAFKA_DIR, 'kafka.pid'));
  if (legacy && pidIs(legacy, 'kafka.Kafka')) {
    log(`kafka: stopping broker pid ${legacy} (SIGTERM, up to 30 s)`);
    await stopPid(legacy, { termWaitMs: 30_000, log, name: 'kafka' });
  }
  fs.rmSync(path.join(KAFKA_DIR, 'kafka.pid'), { force: true });
  if (nodes.length) {
    log(`kafka: stopping ${nodes.length} node${nodes.length > 1 ? 's' : ''} (${nodes.map((n) => n.port).join(', ')}; SIGTERM, up to 30 s)`);
    await stopKafkaNodes({ ports: nodes.map((n) => n.port), log });
  } else if (!legacy) {
    log('kafka: not started by stack; leaving it');
  }
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

  const ours = started.kafka?.nodes ?? [];
  const brokers = ours.length ? started.kafka.brokers : config.kafkaBrokers;
  const cluster = await kafkaProbe(brokers);
  let kDetail = cluster ? `up (cluster ${cluster.clusterId}, ${cluster.brokers.length} broker${cluster.brokers.length > 1 ? 's' : ''})` : 'DOWN';
  kDetail += ours.length
    ? `, started by stack: Kafka ${started.kafka.version}, pids ${ours.map((n) => nodePid(n.port) ?? 'gone').join(' ')}`
    : ', not started by stack';
  if (cluster) {
    const admin = kafkaClient(brokers).admin();
    try {
      await admin.connect();
      const names = new Set(await admin.listTopics());
      const md = await admin.fetchTopicMetadata({ topics: TOPICS.map((t) => t.topic).filter((t) => names.has(t)) });
      kDetail += `, topics: ${TOPICS.map((t) => {
        const parts = md.topics.find((x) => x.name === t.topic)?.partitions;
        return parts ? `${t.topic}(${parts.length}×${parts[0]?.replicas.length ?? 0})` : `${t.topic}(MISSING)`;
      }).join(' ')}`;
    } catch (e) {
      kDetail += `, topics: ? (${e.message})`;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }
  res.kafka = { up: Boolean(cluster), detail: kDetail };
  log(`kafka     ${brokers.join(',')}  ${kDetail}`);
  return res;
}
