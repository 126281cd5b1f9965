// Every Redis connection of the cluster mode is made here, with one policy for outages and failovers: a plain
// REDIS_URL or Redis Sentinel (REDIS_SENTINELS, which wins), commands that wait through a reconnect or a failover
// for at most REDIS_COMMAND_TIMEOUT_MS, a demoted primary's READONLY answered by reconnecting to the new one, and
// the subscriber connection re-subscribing by itself (ioredis' autoResubscribe).
import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { REDIS_CONNECTIONS, type Metrics } from '../metrics/metrics.js';

/**
 * The app's connections, each used for one kind of traffic so that a blocking command on one never holds up another:
 * `commands` (presence, ack points, leases, rate windows), `durable` (idempotency keys and read positions: writes
 * followed by WAIT), `publisher` (the fan-out bus' publishes and its per-room last seq) and `subscriber` (Pub/Sub).
 */
export type RedisConnectionName = (typeof REDIS_CONNECTIONS)[number];

export type RedisSettings = Pick<Config, 'redisUrl' | 'redisSentinels' | 'redisSentinelName' | 'redisCommandTimeoutMs' | 'redisWaitTimeoutMs' | 'instanceId'>;

/** What a write that a guarantee rests on waits for: `WAIT replicas timeoutMs` (replicas 0: no wait). */
export interface ReplicaWaitPolicy {
  replicas: number;
  timeoutMs: number;
}

// Reconnect after 50, 100, … ms, then every 500 ms: a failover is noticed within half a second of the new primary.
const RETRY_STEP_MS = 50;
const RETRY_CAP_MS = 500;

/** The ioredis options of one connection (exported for the unit test). */
export function redisOptions(s: RedisSettings, name: RedisConnectionName): RedisOptions {
  const subscriber = name === 'subscriber';
  const common: RedisOptions = {
    connectionName: `chat:${s.instanceId}:${name}`.replace(/\s/g, '_'),
    connectTimeout: 3000,
    // Bounds how long a caller waits for an answer, through reconnects and a failover alike.
    commandTimeout: s.redisCommandTimeoutMs,
    retryStrategy: (times) => Math.min(times * RETRY_STEP_MS, RETRY_CAP_MS),
    // Commands queued while disconnected are dropped unsent after about the command timeout (they already failed
    // for their callers, and a write sent much later could undo a newer one); the subscriber's are only
    // (un)subscriptions, kept until the connection is back.
    maxRetriesPerRequest: subscriber ? null : 10 + Math.ceil(s.redisCommandTimeoutMs / RETRY_CAP_MS),
    enableAutoPipelining: !subscriber,
    // A primary demoted to a replica (a failover it did not see, or a restart) answers writes with READONLY:
    // reconnect — through the sentinels, to the new primary — and send the command again.
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
  };
  if (s.redisSentinels === null) return common;
  return {
    ...common,
    sentinels: s.redisSentinels,
    name: s.redisSentinelName,
    role: 'master',
    // ioredis' own failoverDetector can end a connection for good when it fires while that connection is already
    // reconnecting (its connect is cancelled and the client goes to `end`): RedisConnections watches instead.
    failoverDetector: false,
    sentinelRetryStrategy: (times) => Math.min(times * 100, 1000),
    sentinelCommandTimeout: 2000,
  };
}

export class RedisConnections {
  private readonly clients = new Map<RedisConnectionName, Redis>();
  /** Sentinel mode: one subscription to `+switch-master` per sentinel. */
  private readonly watchers: Redis[] = [];

  constructor(
    private readonly settings: RedisSettings,
    private readonly log: Logger,
    private readonly metrics?: Pick<Metrics, 'redisReconnects'>,
  ) {
    for (const sentinel of settings.redisSentinels ?? []) this.watchers.push(this.watch(sentinel));
  }

  /**
   * Leaves the old primary at a failover, not at its first error: a primary that is demoted while alive (a manual
   * failover, a partition that healed) would otherwise keep serving stale reads and take writes. Only connections
   * that are up are dropped (they reconnect through the sentinels); one that is already reconnecting is left alone.
   */
  private watch(sentinel: { host: string; port: number }): Redis {
    const w = new Redis({
      ...sentinel,
      connectionName: `chat:${this.settings.instanceId}:failover-watch`.replace(/\s/g, '_'),
      retryStrategy: (n) => Math.min(n * 100, 1000),
      maxRetriesPerRequest: null,
    });
    w.on('error', () => {}); // the sentinel's own outage: the data connections do not depend on this one
    w.subscribe('+switch-master').catch(() => {});
    w.on('message', (_channel: string, text: string) => {
      const [name, oldHost = '', oldPort] = text.split(' ');
      if (name !== this.settings.redisSentinelName) return;
      // An announced host name (not an address) cannot be told apart here: then every connection on that port goes.
      const onOld = (c: Redis) => c.stream?.remotePort === Number(oldPort) && (!isIP(oldHost) || c.stream.remoteAddress?.replace(/^::ffff:/, '') === oldHost);
      for (const [connection, client] of this.clients) {
        if (client.status !== 'ready' || !onOld(client)) continue;
        this.log.info({ connection, old: `${oldHost}:${oldPort}` }, 'redis failover announced: leaving the old primary');
        client.disconnect(true);
      }
    });
    return w;
  }

  /** The connection `name`, made on first use. */
  get(name: RedisConnectionName): Redis {
    let client = this.clients.get(name);
    if (client) return client;
    const options = redisOptions(this.settings, name);
    client = this.settings.redisSentinels === null ? new Redis(this.settings.redisUrl, options) : new Redis(options);
    // One warning per outage and connection (it retries every half second): the rest at debug.
    let failing = false;
    let wasReady = false;
    client.on('error', (err: Error) => {
      this.log[failing ? 'debug' : 'warn']({ err, connection: name }, 'redis connection error');
      failing = true;
    });
    client.on('ready', () => {
      if (wasReady) {
        this.log.info({ connection: name }, 'redis connection re-established');
        this.metrics?.redisReconnects.inc({ connection: name });
      }
      failing = false;
      wasReady = true;
    });
    this.clients.set(name, client);
    return client;
  }

  /** WAIT after critical writes: one replica with Sentinel (the failover target), nothing with a single Redis. */
  get replicaWait(): ReplicaWaitPolicy {
    const on = this.settings.redisSentinels !== null && this.settings.redisWaitTimeoutMs > 0;
    return { replicas: on ? 1 : 0, timeoutMs: this.settings.redisWaitTimeoutMs };
  }

  /** For logs and the start-up banner (no password). */
  describe(): string {
    const s = this.settings;
    if (s.redisSentinels === null) return `Redis ${redactUrl(s.redisUrl)}`;
    return `Redis Sentinel "${s.redisSentinelName}" via ${s.redisSentinels.map((x) => `${x.host}:${x.port}`).join(',')}`;
  }

  /** Throws naming the connections that are not ready (reconnecting, or looking for the new primary). */
  assertReady(): void {
    const down = [...this.clients].filter(([, c]) => c.status !== 'ready').map(([n, c]) => `${n} ${c.status}`);
    if (down.length > 0) throw new Error(`redis connection not ready: ${down.join(', ')}`);
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.disconnect();
    await Promise.allSettled([...this.clients.values()].map((c) => c.quit().catch(() => c.disconnect())));
    this.clients.clear();
  }
}

/** A URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
