// Redis with failover, local and without Docker: a primary, a replica and three sentinels, each a process of the
// installed `redis-server` (a sentinel is `redis-server <conf> --sentinel`). `npm run stack:up -- --redis-sentinel`
// starts the default set (Redis 6390-6391, sentinels 26390-26392, files in .stack/redis-sentinel/); the failover test
// starts its own on other ports of the same ranges. Data is not persisted (like the stack's Redis): a node that is
// killed comes back empty and is turned into a replica of the new primary by the sentinels.
//
// Each node's folder holds its config (Redis and Sentinel rewrite it at a failover), pid file and log.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { Redis } from 'ioredis';

import { SERVICE_DEFAULTS } from '../../src/shared/defaults.ts';
import { STACK_DIR, StackError, defaultLog, pidIs, pollUntil, readPidFile, stopPid, tail, tcpCheck, which } from './proc.mjs';

/** The set `stack:up -- --redis-sentinel` starts. Failover settings: a primary silent for 1 s is down (quorum 2). */
export const SENTINEL_DEFAULTS = Object.freeze({
  dir: path.join(STACK_DIR, 'redis-sentinel'),
  name: SERVICE_DEFAULTS.REDIS_SENTINEL_NAME,
  host: '127.0.0.1',
  primaryPort: 6390,
  replicaPort: 6391,
  sentinelPorts: Object.freeze([26390, 26391, 26392]),
  quorum: 2,
  downAfterMs: 1000,
  failoverTimeoutMs: 5000,
});

const START_TIMEOUT_MS = 30_000;

function layout(opts = {}) {
  const o = { ...SENTINEL_DEFAULTS, ...opts };
  const node = (role, port) => {
    const dir = path.join(o.dir, `${role}-${port}`);
    return { role, port, dir, conf: path.join(dir, `${role}.conf`), pidfile: path.join(dir, `${role}.pid`), logfile: path.join(dir, `${role}.log`) };
  };
  return {
    ...o,
    data: [node('redis', o.primaryPort), node('redis', o.replicaPort)],
    sentinels: o.sentinelPorts.map((p) => node('sentinel', p)),
    env: { REDIS_SENTINELS: o.sentinelPorts.map((p) => `${o.host}:${p}`).join(','), REDIS_SENTINEL_NAME: o.name },
  };
}

/** What every node's config starts with: where it listens and keeps its files, as a daemon. */
const processConf = (node, host) => [
  `port ${node.port}`,
  `bind ${host}`,
  'daemonize yes',
  `pidfile ${node.pidfile}`,
  `logfile ${node.logfile}`,
  `dir ${node.dir}`,
];

/** A data node's config; the replica follows `primaryPort`. */
export function redisNodeConf(node, { host = SENTINEL_DEFAULTS.host, replicaOf = null } = {}) {
  return [...processConf(node, host), 'save ""', 'appendonly no', ...(replicaOf ? [`replicaof ${host} ${replicaOf}`] : []), ''].join('\n');
}

/** A sentinel's config (also what compose/'s `ha` profile uses: test/integration/compose.test.ts compares them). */
export function sentinelConf(
  node,
  {
    host = SENTINEL_DEFAULTS.host,
    name = SENTINEL_DEFAULTS.name,
    primaryPort = SENTINEL_DEFAULTS.primaryPort,
    quorum = SENTINEL_DEFAULTS.quorum,
    downAfterMs = SENTINEL_DEFAULTS.downAfterMs,
    failoverTimeoutMs = SENTINEL_DEFAULTS.failoverTimeoutMs,
  } = {},
) {
  return [
    ...processConf(node, host),
    `sentinel monitor ${name} ${host} ${primaryPort} ${quorum}`,
    `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
    `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
    `sentinel parallel-syncs ${name} 1`,
    '',
  ].join('\n');
}

const running = (node) => {
  const pid = readPidFile(node.pidfile);
  return pid && pidIs(pid, `:${node.port}`) ? pid : null;
};

function client(port, host = SENTINEL_DEFAULTS.host) {
  const c = new Redis({ host, port, lazyConnect: true, connectTimeout: 1500, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  c.on('error', () => {});
  return c;
}

async function withClient(port, fn, host) {
  const c = client(port, host);
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

const pairs = (list) => Object.fromEntries(Array.from({ length: list.length / 2 }, (_, i) => [list[2 * i], list[2 * i + 1]]));

/** What each sentinel says of the set: the primary's address and flags, its replicas and the other sentinels. */
async function sentinelView(l, port) {
  return withClient(
    port,
    async (c) => {
      const master = pairs(await c.call('SENTINEL', 'MASTER', l.name));
      const replicas = (await c.call('SENTINEL', 'REPLICAS', l.name)).map(pairs);
      return {
        primary: `${master.ip}:${master.port}`,
        flags: master.flags,
        sentinels: Number(master['num-other-sentinels']) + 1,
        replicasUp: replicas.filter((r) => r.flags === 'slave' && r['master-link-status'] === 'ok').length,
      };
    },
    l.host,
  ).catch(() => null);
}

/** true when every sentinel sees the same healthy primary, one synced replica and all three sentinels. */
async function healthy(l) {
  const views = await Promise.all(l.sentinels.map((s) => sentinelView(l, s.port)));
  if (views.some((v) => v === null || v.flags !== 'master' || v.replicasUp < 1 || v.sentinels < l.sentinels.length)) return null;
  return new Set(views.map((v) => v.primary)).size === 1 ? views[0].primary : null;
}

function startNode(node, conf, { sentinel = false } = {}) {
  fs.mkdirSync(node.dir, { recursive: true });
  fs.writeFileSync(node.conf, conf);
  const server = which('redis-server');
  if (!server) throw new StackError('`redis-server` is not on PATH: install Redis (Debian: apt-get install redis-server) for --redis-sentinel');
  const r = spawnSync(server, [node.conf, ...(sentinel ? ['--sentinel'] : [])], { encoding: 'utf8', timeout: 15_000 });
  if (r.status !== 0)
    throw new StackError(
      `${node.role} on port ${node.port} did not start: ${(r.stderr || r.stdout || r.error?.message || '').trim() || tail(node.logfile, 5)}`,
    );
}

/**
 * Starts the primary, the replica and the three sentinels (unless all five already run), waits until the sentinels
 * agree on a primary with a synced replica, and resolves with the settings for the app:
 * `{ env: { REDIS_SENTINELS, REDIS_SENTINEL_NAME }, primary: 'host:port', started: boolean }`.
 */
export async function startRedisSentinel({ log = defaultLog, ...opts } = {}) {
  const l = layout(opts);
  const all = [...l.data, ...l.sentinels];
  if (all.every(running)) {
    const primary = await healthy(l);
    if (primary) {
      log(`redis-sentinel: already running (primary ${primary}, sentinels ${l.env.REDIS_SENTINELS})`);
      return { env: l.env, primary, started: false };
    }
  }
  await stopRedisSentinel({ log: () => {}, dir: l.dir });
  for (const n of all) {
    if (await tcpCheck(l.host, n.port, 500))
      throw new StackError(`port ${n.port} is taken by a process this stack did not start; --redis-sentinel needs ${all.map((x) => x.port).join(', ')}`);
  }
  fs.rmSync(l.dir, { recursive: true, force: true });
  const t0 = Date.now();
  const [primary, replica] = l.data;
  startNode(primary, redisNodeConf(primary, l));
  startNode(replica, redisNodeConf(replica, { host: l.host, replicaOf: primary.port }));
  for (const s of l.sentinels) startNode(s, sentinelConf(s, l), { sentinel: true });
  const ok = await pollUntil(() => healthy(l), { timeoutMs: START_TIMEOUT_MS, intervalMs: 200 });
  if (!ok) {
    await stopRedisSentinel({ log: () => {}, dir: l.dir });
    throw new StackError(`the sentinels did not agree on a primary with a synced replica within ${START_TIMEOUT_MS / 1000} s (logs in ${l.dir})`);
  }
  log(
    `redis-sentinel: primary ${l.host}:${primary.port}, replica ${l.host}:${replica.port}, sentinels ${l.env.REDIS_SENTINELS} — up in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  return { env: l.env, primary: ok, started: true };
}

/** Stops whatever of the set runs (by its pid files, each checked to be that redis-server); removes nothing else. */
export async function stopRedisSentinel({ log = defaultLog, ...opts } = {}) {
  const l = layout(opts);
  const pids = [...l.sentinels, ...l.data].map((n) => [n, running(n)]).filter(([, pid]) => pid);
  if (pids.length === 0) return void log('redis-sentinel: not running');
  await Promise.all(pids.map(([n, pid]) => stopPid(pid, { termWaitMs: 10_000, name: `${n.role} ${n.port}` })));
  log(`redis-sentinel: stopped ${pids.length} process(es)`);
}

/** The primary the sentinels name now, as `{ host, port }`. */
export async function sentinelPrimary(opts = {}) {
  const l = layout(opts);
  for (const s of l.sentinels) {
    const addr = await withClient(s.port, (c) => c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', l.name), l.host).catch(() => null);
    if (addr) return { host: addr[0], port: Number(addr[1]) };
  }
  throw new StackError(`no sentinel of ${l.env.REDIS_SENTINELS} answers`);
}

/** The pid of the set's data node on `port` (null when it is not running). */
export function redisNodePid(port, opts = {}) {
  const node = layout(opts).data.find((n) => n.port === port);
  if (!node) throw new StackError(`port ${port} is not a data node of this set`);
  return running(node);
}

/** Starts a stopped data node again from its config (which a failover may have rewritten: then it is a replica). */
export function restartRedisNode(port, opts = {}) {
  const node = layout(opts).data.find((n) => n.port === port);
  if (!node) throw new StackError(`port ${port} is not a data node of this set`);
  const server = which('redis-server');
  const r = spawnSync(server, [node.conf], { encoding: 'utf8', timeout: 15_000 });
  if (r.status !== 0) throw new StackError(`redis on port ${port} did not start again: ${(r.stderr || r.stdout || '').trim()}`);
}

/** Resolves once every sentinel agrees on a healthy primary with a synced replica again; returns it as 'host:port'. */
export async function waitForHealthySet(timeoutMs, opts = {}) {
  const l = layout(opts);
  const primary = await pollUntil(() => healthy(l), { timeoutMs, intervalMs: 200 });
  if (!primary) throw new StackError(`the Sentinel set did not become healthy within ${timeoutMs} ms`);
  return primary;
}
