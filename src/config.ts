// The only reader of process.env. Each setting is written once, in SETTINGS below: the Config field it fills, the
// variable it is read from and its zod schema (validation and default). The zod object, the Config type and the
// mapping from variables to fields are generated from that table, so adding a setting is one entry (and its row in
// API.md, which config.test.ts checks). The few values that depend on other settings are computed in `finish`.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { SERVICE_DEFAULTS } from './shared/defaults.js';

export const ROLE_NAMES = ['gateway', 'persist', 'broadcast', 'notify', 'receipts'] as const;
export type Role = (typeof ROLE_NAMES)[number];

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().min(0);
const intFrom = (min: number, max?: number) => (max === undefined ? z.coerce.number().int().min(min) : z.coerce.number().int().min(min).max(max));
const secret = z.string().min(16, 'must be at least 16 characters');
const identifier = z.string().regex(/^[A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only');
/** A comma-separated list: items trimmed, empty ones dropped. */
const commaList = z.string().transform((s) => s.split(',').flatMap((item) => item.trim() || []));
/** A sentinel's address: `host:port`, `[v6]:port` for IPv6. */
const sentinelAddress = z
  .string()
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:,[\]]+):\d{1,5}$/, 'expected host:port')
  .refine(validPort, 'port out of range');

/** A setting: the variable it is read from and its schema. Unset or empty takes the default; with none, Config has null. */
interface Setting<E extends string = string, S extends z.ZodType = z.ZodType> {
  readonly env: E;
  readonly schema: S;
}
interface Table {
  readonly [field: string]: Setting | Table;
}
const from = <const E extends string, S extends z.ZodType>(env: E, schema: S): Setting<E, S> => ({ env, schema });

const SETTINGS = {
  mode: from('MODE', z.enum(['embedded', 'cluster']).default('embedded')),
  env: from('NODE_ENV', z.enum(['development', 'test', 'production']).default('development')),
  port: from('PORT', port.default(8080)),
  stompTcpPort: from('STOMP_TCP_PORT', port.default(61613)),
  host: from('HOST', z.string().min(1).default('0.0.0.0')),
  /** Absolute path of the embedded mode's data folder (PGlite database, message log, generated dev secret). */
  dataDir: from('DATA_DIR', z.string().min(1).default('data').transform(absolute)),
  databaseUrl: from('DATABASE_URL', z.url({ protocol: /^postgres(ql)?$/ }).default(SERVICE_DEFAULTS.DATABASE_URL)),
  redisUrl: from('REDIS_URL', z.url({ protocol: /^rediss?$/ }).default(SERVICE_DEFAULTS.REDIS_URL)),
  /** Redis Sentinel: when set, the app asks these sentinels for the primary named `redisSentinelName` (REDIS_URL unused). */
  redisSentinels: from(
    'REDIS_SENTINELS',
    commaList
      .pipe(z.array(sentinelAddress).min(1))
      .transform((list) => list.map(hostPort))
      .optional(),
  ),
  redisSentinelName: from(
    'REDIS_SENTINEL_NAME',
    z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, ".", "_" and "-" only')
      .default(SERVICE_DEFAULTS.REDIS_SENTINEL_NAME),
  ),
  /** How long a Redis command waits through a reconnect or a failover before it fails (server-unavailable). */
  redisCommandTimeoutMs: from('REDIS_COMMAND_TIMEOUT_MS', intFrom(100).default(10_000)),
  /** Sentinel mode: how long a write that a guarantee rests on waits for the replica (WAIT 1); 0: never waits. */
  redisWaitTimeoutMs: from('REDIS_WAIT_TIMEOUT_MS', nonNegativeInt.default(100)),
  kafkaBrokers: from(
    'KAFKA_BROKERS',
    commaList.prefault(SERVICE_DEFAULTS.KAFKA_BROKERS).pipe(z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port')).min(1)),
  ),
  /** null: none given outside production; the embedded mode generates one, cluster mode uses DEV_JWT_SECRET. */
  jwtSecret: from('JWT_SECRET', secret.optional()),
  jwtTtlSeconds: from('JWT_TTL_SECONDS', positiveInt.default(86_400)),
  roles: from(
    'ROLES',
    commaList
      .prefault(ROLE_NAMES.join(','))
      .pipe(z.array(z.enum(ROLE_NAMES)).min(1))
      .transform((r): ReadonlySet<Role> => new Set(r)),
  ),
  /** Logs, metrics and CONNECTED's `server` header; host name:PORT when not given (`finish`). */
  instanceId: from('INSTANCE_ID', z.string().min(1).max(100).optional()),
  logLevel: from('LOG_LEVEL', z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')),
  /** /metrics requires `Authorization: Bearer <token>` when set. */
  metricsToken: from('METRICS_TOKEN', secret.optional()),
  /** The metrics-only port (0: none): DEFAULT_METRICS_PORT in production when not given, off otherwise (`finish`). */
  metricsPort: from('METRICS_PORT', port.optional()),
  metricsHost: from('METRICS_HOST', z.string().min(1).default('127.0.0.1')),
  /** The per-connection and per-user limits of API.md. */
  limits: {
    maxFrameBytes: from('MAX_FRAME_BYTES', positiveInt.default(64 * 1024)),
    maxContentBytes: from('MAX_CONTENT_BYTES', positiveInt.default(4 * 1024)),
    maxHeaders: from('MAX_HEADERS', positiveInt.default(32)),
    maxHeaderBytes: from('MAX_HEADER_BYTES', positiveInt.default(1024)),
    maxSubscriptions: from('MAX_SUBSCRIPTIONS', positiveInt.default(100)),
    maxOutboxBytes: from('MAX_OUTBOX_BYTES', positiveInt.default(1024 * 1024)),
    // Per-connection budgets (SECURITY in README): open transactions, frames and bytes held by one transaction,
    // unacknowledged MESSAGEs per client-ack subscription, concurrent since-seq replays per connection and per user.
    maxTransactions: from('MAX_TRANSACTIONS', positiveInt.default(8)),
    maxTransactionFrames: from('MAX_TRANSACTION_FRAMES', positiveInt.default(100)),
    maxTransactionBytes: from('MAX_TRANSACTION_BYTES', positiveInt.default(256 * 1024)),
    maxUnacked: from('MAX_UNACKED', positiveInt.default(1000)),
    maxReplaysPerConnection: from('MAX_REPLAYS_PER_CONNECTION', positiveInt.default(2)),
    maxReplaysPerUser: from('MAX_REPLAYS_PER_USER', positiveInt.default(4)),
    /**
     * Stored messages one user may have replayed per minute, over every instance (since-seq SUBSCRIBEs, client-ack
     * resumes, REST history pages): enough to resume from a long disconnect in many rooms at once, far below the
     * 150,000-in-2.4-s of a replay flood. A replay that overdraws it is paced; a new one is refused (rate-limited).
     */
    replayMessagesPerMin: from('REPLAY_MESSAGES_PER_MIN', positiveInt.default(10_000)),
    /** Connections not yet CONNECTED per remote address. */
    maxPendingPerIp: from('MAX_PENDING_PER_IP', positiveInt.default(1000)),
    maxConnections: from('MAX_CONNECTIONS', positiveInt.default(100_000)),
  },
  heartbeatMs: from('HEARTBEAT_MS', nonNegativeInt.default(10_000)),
  connectTimeoutMs: from('CONNECT_TIMEOUT_MS', positiveInt.default(10_000)),
  /** A frame started but not completed within this time closes the connection (half-sent frames). */
  frameTimeoutMs: from('FRAME_TIMEOUT_MS', positiveInt.default(30_000)),
  /** HTTP: a request (headers and body) must arrive within this; idle keep-alive sockets close after the next. */
  httpRequestTimeoutMs: from('HTTP_REQUEST_TIMEOUT_MS', positiveInt.default(10_000)),
  httpKeepAliveTimeoutMs: from('HTTP_KEEPALIVE_TIMEOUT_MS', positiveInt.default(5_000)),
  /**
   * Token buckets (sustained rate per second and burst): SENDs per connection and per user (cluster-wide), every
   * frame per connection (ACK/NACK/BEGIN/SUBSCRIBE floods). Over them a connection is paused; one kept over for
   * `abuseMs` gets ERROR rate-limited. `restSendsInFlight`: REST sends of one user in flight at once on one instance.
   */
  rate: {
    connPerSec: from('RATE_CONN_PER_SEC', positiveInt.default(200)),
    connBurst: from('RATE_CONN_BURST', positiveInt.default(400)),
    userPerSec: from('RATE_USER_PER_SEC', positiveInt.default(400)),
    userBurst: from('RATE_USER_BURST', positiveInt.default(800)),
    framesPerSec: from('RATE_FRAMES_PER_SEC', positiveInt.default(1000)),
    framesBurst: from('RATE_FRAMES_BURST', positiveInt.default(2000)),
    abuseMs: from('RATE_ABUSE_MS', positiveInt.default(10_000)),
    restSendsInFlight: from('MAX_REST_SENDS_IN_FLIGHT', positiveInt.default(16)),
  },
  /** Failed logins per account and per address in a window; sign-ups per address; rooms created per user per hour. */
  accounts: {
    loginFailuresPerAccount: from('LOGIN_FAILURES_PER_ACCOUNT', positiveInt.default(10)),
    loginFailuresPerIp: from('LOGIN_FAILURES_PER_IP', positiveInt.default(100)),
    loginWindowMs: from('LOGIN_WINDOW_MS', positiveInt.default(15 * 60_000)),
    // Sign-ups per address, over every instance: a public deployment's default (a household or an office behind one
    // address signs up a few people at once, then one every 6 minutes). Tests and benches that sign up thousands of
    // users from 127.0.0.1 set their own. SIGNUP_PER_SEC_PER_IP, when set, wins over the hourly rate (`finish`).
    signupBurstPerIp: from('SIGNUP_BURST_PER_IP', positiveInt.default(5)),
    signupPerHourPerIp: from('SIGNUP_PER_HOUR_PER_IP', positiveInt.default(10)),
    signupPerSecPerIp: from('SIGNUP_PER_SEC_PER_IP', z.coerce.number().positive().optional()),
    /** Each may add up to 1000 members. */
    roomsPerUserPerHour: from('ROOMS_PER_USER_PER_HOUR', positiveInt.default(100)),
  },
  // Producer: a send finding it idle goes at once, while busy sends gather PRODUCE_LINGER_MS (5, Kafka 4's own
  // linger.ms default: against 2, a fifth less server CPU per delivery at 500-1,000 msgs/s for a few ms more p50
  // below that, PERF_RESULT.md round 4); one not acknowledged (acks=all) within KAFKA_APPEND_TIMEOUT_MS gets
  // server-unavailable (a retry under its idempotency key finds it if it landed).
  produceLingerMs: from('PRODUCE_LINGER_MS', intFrom(0, 1000).default(5)),
  kafkaSessionTimeoutMs: from('KAFKA_SESSION_TIMEOUT_MS', intFrom(3000).default(10_000)),
  kafkaAppendTimeoutMs: from('KAFKA_APPEND_TIMEOUT_MS', intFrom(1000, 300_000).default(15_000)),
  /** Prefix of the consumer group ids (separate deployments, or test runs, sharing one broker). */
  kafkaGroupPrefix: from('KAFKA_GROUP_PREFIX', identifier.default('')),
  shutdownGraceMs: from('SHUTDOWN_GRACE_MS', positiveInt.default(25_000)),
  /** A session not refreshed for this long counts as gone (bounds how long a killed instance's users stay online). */
  presenceTtlMs: from('PRESENCE_TTL_MS', intFrom(1000).default(30_000)),
  /** The operations console (src/ops/): administrators (lower-cased), how often each instance publishes its stats, when a silent instance drops out, seconds of history the charts keep. */
  ops: {
    adminEmails: from(
      'ADMIN_EMAILS',
      commaList
        .prefault('')
        .transform((list) => list.map((e) => e.toLowerCase()))
        .pipe(z.array(z.email('expected comma-separated e-mail addresses')).max(1000))
        .transform((list): ReadonlySet<string> => new Set(list)),
    ),
    statsIntervalMs: from('OPS_STATS_INTERVAL_MS', intFrom(200, 60_000).default(1000)),
    instanceTimeoutMs: from('OPS_INSTANCE_TIMEOUT_MS', intFrom(1000, 600_000).default(5000)),
    historySeconds: from('OPS_HISTORY_SECONDS', intFrom(30, 3600).default(300)),
  },
  /** Offline notifications by webhook (src/notifications/; API.md has the policy these tune); all durations in ms. Config has null without a URL. */
  webhook: {
    url: from('NOTIFY_WEBHOOK_URL', z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional()),
    /** null: unsigned POSTs (outside production only). */
    secret: from('NOTIFY_WEBHOOK_SECRET', secret.optional()),
    windowMs: from('NOTIFY_WEBHOOK_WINDOW_MS', intFrom(0, 600_000).default(2000)),
    maxMessages: from('NOTIFY_WEBHOOK_MAX_MESSAGES', intFrom(1, 500).default(50)),
    timeoutMs: from('NOTIFY_WEBHOOK_TIMEOUT_MS', intFrom(100, 120_000).default(10_000)),
    concurrency: from('NOTIFY_WEBHOOK_CONCURRENCY', intFrom(1, 256).default(8)),
    backoffMs: from('NOTIFY_WEBHOOK_BACKOFF_MS', intFrom(10).default(1000)),
    backoffMaxMs: from('NOTIFY_WEBHOOK_BACKOFF_MAX_MS', intFrom(10).default(60_000)),
    giveUpMs: from('NOTIFY_WEBHOOK_GIVE_UP_MS', intFrom(1000).default(3_600_000)),
  },
} satisfies Table;

/** What a table entry becomes in Config: its parsed value (null for an unset one without default), or a group of them. */
type ValueOf<T> = T extends Setting<string, infer S> ? NullWhenUnset<z.output<S>> : { [K in keyof T]: ValueOf<T[K]> };
type NullWhenUnset<V> = undefined extends V ? Exclude<V, undefined> | null : V;
type Settings = ValueOf<typeof SETTINGS>;
type Leaves<T> = T extends Setting ? T : { [K in keyof T]: Leaves<T[K]> }[keyof T];
/** The environment variables of the settings. */
export type SettingName = Leaves<typeof SETTINGS>['env'];
/** A variable's parsed value (undefined for an unset one without default). */
export type SettingValue<N extends SettingName> = z.output<Extract<Leaves<typeof SETTINGS>, { env: N }>['schema']>;

/** Login throttling, sign-ups (the refill per second may be a fraction: 10 an hour) and room creation. */
export type AccountLimits = Omit<Settings['accounts'], 'signupPerHourPerIp' | 'signupPerSecPerIp'> & { signupPerSecPerIp: number };
/** The offline-notification webhook's settings (NOTIFY_WEBHOOK_*); all durations in ms. */
export type WebhookConfig = Settings['webhook'] & { url: string };

export type Config = Omit<Settings, 'instanceId' | 'metricsPort' | 'accounts' | 'webhook'> & {
  /** false when STOMP_TCP_PORT was not given: a taken default port then turns TCP STOMP off with a warning. */
  stompTcpPortExplicit: boolean;
  instanceId: string;
  /** The metrics-only port (0: none): DEFAULT_METRICS_PORT by default in production, off otherwise. */
  metricsPort: number;
  /** /metrics on PORT too: outside production, or in production with METRICS_TOKEN (then it needs the token). */
  metricsOnPublicPort: boolean;
  accounts: AccountLimits;
  /** null when NOTIFY_WEBHOOK_URL is not set. */
  webhook: WebhookConfig | null;
};
export type Mode = Config['mode'];
/** The per-connection and per-user limits of API.md; the token buckets and abuse bounds of SENDs and frames. */
export type Limits = Config['limits'];
export type RateLimits = Config['rate'];
/** The operations console: administrators (lower-cased ADMIN_EMAILS), stats interval, instance timeout, history. */
export type OpsSettings = Config['ops'];

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The metrics port in production when METRICS_PORT is not given (the usual port of Node.js Prometheus exporters). */
export const DEFAULT_METRICS_PORT = 9464;

/** The shared secret of cluster instances in development and test when none is given (never in production). */
export const DEV_JWT_SECRET = 'dev-only-secret-do-not-use-in-production';

function leaves(table: Table): Setting[] {
  return Object.values(table).flatMap((v) => (isSetting(v) ? [v] : leaves(v)));
}
const isSetting = (v: Setting | Table): v is Setting => typeof v.env === 'string';

/** Every setting by its variable, in the table's order. */
const BY_NAME: ReadonlyMap<string, Setting> = new Map(leaves(SETTINGS).map((s) => [s.env, s]));
export const SETTING_NAMES: readonly SettingName[] = Object.freeze([...BY_NAME.keys()] as SettingName[]);

/** Rules between settings: each names the variable to fix. */
const RULES: ReadonlyArray<{ setting: Setting; broken: (s: Settings) => boolean; message: string }> = [
  {
    setting: SETTINGS.ops.instanceTimeoutMs,
    broken: (s) => s.ops.instanceTimeoutMs < 2 * s.ops.statsIntervalMs,
    message: 'must be at least twice OPS_STATS_INTERVAL_MS (one lost sample must not drop an instance)',
  },
  {
    setting: SETTINGS.jwtSecret,
    broken: (s) => !s.jwtSecret && s.env === 'production',
    message: 'is required when NODE_ENV is production (a development secret is used only outside production)',
  },
  {
    setting: SETTINGS.webhook.secret,
    broken: (s) => s.webhook.url !== null && !s.webhook.secret && s.env === 'production',
    message: 'is required with NOTIFY_WEBHOOK_URL when NODE_ENV is production (unsigned webhooks only outside production)',
  },
  {
    setting: SETTINGS.webhook.backoffMaxMs,
    broken: (s) => s.webhook.backoffMaxMs < s.webhook.backoffMs,
    message: 'must be at least NOTIFY_WEBHOOK_BACKOFF_MS',
  },
];

const schema = z
  .object(Object.fromEntries([...BY_NAME].map(([name, s]) => [name, s.schema])))
  .transform((parsed) => valuesOf(SETTINGS, parsed))
  .superRefine((s, ctx) => {
    for (const rule of RULES) if (rule.broken(s)) ctx.addIssue({ code: 'custom', path: [rule.setting.env], message: rule.message });
  });

/** Parses and validates the environment. Throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const given = cleaned(env);
  const parsed = schema.safeParse(given);
  if (!parsed.success) throw new ConfigError(`invalid configuration:\n${z.prettifyError(parsed.error)}`);
  return finish(parsed.data, (name) => given[name] !== undefined);
}

/**
 * One setting as loadConfig reads it (validated, its default when unset or empty): for the tools and tests that
 * need a service's address rather than a whole configuration. Throws ConfigError naming the variable.
 */
export function readSetting<N extends SettingName>(name: N, env: Record<string, string | undefined> = process.env): SettingValue<N> {
  const parsed = z.object({ [name]: BY_NAME.get(name)!.schema }).safeParse(cleaned(env));
  if (!parsed.success) throw new ConfigError(`invalid configuration:\n${z.prettifyError(parsed.error)}`);
  return parsed.data[name] as SettingValue<N>;
}

/** Empty strings mean "unset" (a common shell mistake: FOO= npm start). */
function cleaned(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
}

/** The table's values by field, from the parsed variables. */
function valuesOf<T extends Table>(table: T, parsed: Record<string, unknown>): ValueOf<T> {
  return Object.fromEntries(Object.entries(table).map(([field, v]) => [field, isSetting(v) ? (parsed[v.env] ?? null) : valuesOf(v, parsed)])) as ValueOf<T>;
}

/** The values that depend on other settings or on whether a variable was given. */
function finish(s: Settings, given: (name: SettingName) => boolean): Config {
  const { signupPerHourPerIp, signupPerSecPerIp, ...accounts } = s.accounts;
  const { url, ...webhook } = s.webhook;
  return {
    ...s,
    stompTcpPortExplicit: given('STOMP_TCP_PORT'),
    instanceId: s.instanceId ?? `${hostname()}:${s.port}`,
    metricsPort: s.metricsPort ?? (s.env === 'production' ? DEFAULT_METRICS_PORT : 0),
    metricsOnPublicPort: s.env !== 'production' || s.metricsToken !== null,
    accounts: { ...accounts, signupPerSecPerIp: signupPerSecPerIp ?? signupPerHourPerIp / 3600 },
    webhook: url === null ? null : { url, ...webhook },
  };
}

function absolute(path: string): string {
  return resolve(path);
}

function validPort(hp: string): boolean {
  return ((p) => p >= 1 && p <= 65535)(hostPort(hp).port);
}

function hostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(i + 1)) };
}
