// The only reader of process.env: one zod schema, validated at start-up.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';

export const ROLE_NAMES = ['gateway', 'persist', 'broadcast', 'notify', 'receipts'] as const;
export type Role = (typeof ROLE_NAMES)[number];
export type Mode = 'embedded' | 'cluster';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().min(0);

const schema = z
  .object({
    MODE: z.enum(['embedded', 'cluster']).default('embedded'),
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    PORT: port.default(8080),
    STOMP_TCP_PORT: port.default(61613),
    HOST: z.string().min(1).default('0.0.0.0'),
    DATA_DIR: z.string().min(1).default('data'),
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default('postgres://postgres@127.0.0.1:5432/chat'),
    REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
    // Redis Sentinel (wins over REDIS_URL): the sentinels' host:port list and the monitored primary's name.
    REDIS_SENTINELS: z
      .string()
      .transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:,[\]]+):\d{1,5}$/, 'expected host:port').refine(validPort, 'port out of range')).min(1))
      .optional(),
    REDIS_SENTINEL_NAME: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, ".", "_" and "-" only').default('chat'),
    // How long a Redis command waits through a reconnect or a failover before it fails (server-unavailable).
    REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
    // Sentinel mode: how long a write that a guarantee rests on waits for the replica (WAIT 1); 0: never waits.
    REDIS_WAIT_TIMEOUT_MS: nonNegativeInt.default(100),
    KAFKA_BROKERS: z
      .string()
      .default('127.0.0.1:9092')
      .transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected host:port')).min(1)),
    JWT_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
    JWT_TTL_SECONDS: positiveInt.default(86_400),
    ROLES: z
      .string()
      .default(ROLE_NAMES.join(','))
      .transform((s) => s.split(',').map((r) => r.trim()).filter(Boolean))
      .pipe(z.array(z.enum(ROLE_NAMES)).min(1)),
    INSTANCE_ID: z.string().min(1).max(100).optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    // /metrics: with a token it requires `Authorization: Bearer <token>`. In production it is served on a port of
    // its own (METRICS_PORT, default 9464, bound to METRICS_HOST) and on the public port only with a token.
    METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    METRICS_PORT: port.optional(),
    METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    // Limits of API.md, configurable.
    MAX_FRAME_BYTES: positiveInt.default(64 * 1024),
    MAX_CONTENT_BYTES: positiveInt.default(4 * 1024),
    MAX_HEADERS: positiveInt.default(32),
    MAX_HEADER_BYTES: positiveInt.default(1024),
    MAX_SUBSCRIPTIONS: positiveInt.default(100),
    MAX_OUTBOX_BYTES: positiveInt.default(1024 * 1024),
    // Per-connection budgets (SECURITY in README): open transactions, frames and bytes held by one transaction,
    // unacknowledged MESSAGEs per client-ack subscription, concurrent since-seq replays per connection and per user.
    MAX_TRANSACTIONS: positiveInt.default(8),
    MAX_TRANSACTION_FRAMES: positiveInt.default(100),
    MAX_TRANSACTION_BYTES: positiveInt.default(256 * 1024),
    MAX_UNACKED: positiveInt.default(1000),
    MAX_REPLAYS_PER_CONNECTION: positiveInt.default(2),
    MAX_REPLAYS_PER_USER: positiveInt.default(4),
    // Stored messages one user may have replayed per minute, over every instance (since-seq SUBSCRIBEs, client-ack
    // resumes, REST history pages): enough to resume from a long disconnect in many rooms at once, far below the
    // 150,000-in-2.4-s of a replay flood. A replay that overdraws it is paced; a new one is refused (rate-limited).
    REPLAY_MESSAGES_PER_MIN: positiveInt.default(10_000),
    // Connections: not yet CONNECTED per remote address, and in total per instance.
    MAX_PENDING_PER_IP: positiveInt.default(1000),
    MAX_CONNECTIONS: positiveInt.default(100_000),
    HEARTBEAT_MS: nonNegativeInt.default(10_000),
    CONNECT_TIMEOUT_MS: positiveInt.default(10_000),
    // A frame started but not completed within this time closes the connection (half-sent frames).
    FRAME_TIMEOUT_MS: positiveInt.default(30_000),
    // HTTP: a request (headers and body) must arrive within this; idle keep-alive sockets close after KEEPALIVE.
    HTTP_REQUEST_TIMEOUT_MS: positiveInt.default(10_000),
    HTTP_KEEPALIVE_TIMEOUT_MS: positiveInt.default(5_000),
    // Token buckets: sustained rate per second and burst. SENDs per connection and per user (cluster-wide);
    // every frame per connection (ACK/NACK/BEGIN/SUBSCRIBE floods); over them the connection is paused, and
    // a connection kept over for RATE_ABUSE_MS gets ERROR rate-limited.
    RATE_CONN_PER_SEC: positiveInt.default(200),
    RATE_CONN_BURST: positiveInt.default(400),
    RATE_USER_PER_SEC: positiveInt.default(400),
    RATE_USER_BURST: positiveInt.default(800),
    RATE_FRAMES_PER_SEC: positiveInt.default(1000),
    RATE_FRAMES_BURST: positiveInt.default(2000),
    RATE_ABUSE_MS: positiveInt.default(10_000),
    // REST sends of one user in flight at once on one instance.
    MAX_REST_SENDS_IN_FLIGHT: positiveInt.default(16),
    // Accounts: failed logins per account and per address in a window; signups per address (burst, refill/s).
    LOGIN_FAILURES_PER_ACCOUNT: positiveInt.default(10),
    LOGIN_FAILURES_PER_IP: positiveInt.default(100),
    LOGIN_WINDOW_MS: positiveInt.default(15 * 60_000),
    // Sign-ups per address, over every instance: a public deployment's default (a household or an office behind one
    // address signs up a few people at once, then one every 6 minutes). Tests and benches that sign up thousands
    // of users from 127.0.0.1 set their own. SIGNUP_PER_SEC_PER_IP, when set, wins over the hourly rate.
    SIGNUP_BURST_PER_IP: positiveInt.default(5),
    SIGNUP_PER_HOUR_PER_IP: positiveInt.default(10),
    SIGNUP_PER_SEC_PER_IP: z.coerce.number().positive().optional(),
    // Rooms: created per user per hour (each may add up to 1000 members), and members invited per room per hour.
    ROOMS_PER_USER_PER_HOUR: positiveInt.default(100),
    // Producer: a send finding it idle goes at once, while busy sends gather PRODUCE_LINGER_MS; one not acknowledged
    // (acks=all) within KAFKA_APPEND_TIMEOUT_MS gets server-unavailable (a retry under its idempotency key finds it if it landed).
    PRODUCE_LINGER_MS: z.coerce.number().int().min(0).max(1000).default(2),
    KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(3000).default(10_000),
    KAFKA_APPEND_TIMEOUT_MS: z.coerce.number().int().min(1000).max(300_000).default(15_000),
    // Prefix of the consumer group ids (separate deployments, or test runs, sharing one broker).
    KAFKA_GROUP_PREFIX: z.string().regex(/^[A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only').default(''),
    SHUTDOWN_GRACE_MS: positiveInt.default(25_000),
    // A session not refreshed for this long counts as gone (bounds how long a killed instance's users stay online).
    PRESENCE_TTL_MS: z.coerce.number().int().min(1000).default(30_000),
    // Operations console (src/ops/): administrators' e-mails; how often each instance publishes its stats, when a
    // silent instance drops out, and how many seconds of history the charts keep.
    ADMIN_EMAILS: z
      .string()
      .default('')
      .transform((s) => s.split(',').map((e) => e.trim().toLowerCase()).filter(Boolean))
      .pipe(z.array(z.email('expected comma-separated e-mail addresses')).max(1000)),
    OPS_STATS_INTERVAL_MS: z.coerce.number().int().min(200).max(60_000).default(1000),
    OPS_INSTANCE_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000).default(5000),
    OPS_HISTORY_SECONDS: z.coerce.number().int().min(30).max(3600).default(300),
    // Offline notifications by webhook (src/notifications/; API.md has the policy these settings tune).
    NOTIFY_WEBHOOK_URL: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
    NOTIFY_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
    NOTIFY_WEBHOOK_WINDOW_MS: z.coerce.number().int().min(0).max(600_000).default(2000),
    NOTIFY_WEBHOOK_MAX_MESSAGES: z.coerce.number().int().min(1).max(500).default(50),
    NOTIFY_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
    NOTIFY_WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
    NOTIFY_WEBHOOK_BACKOFF_MS: z.coerce.number().int().min(10).default(1000),
    NOTIFY_WEBHOOK_BACKOFF_MAX_MS: z.coerce.number().int().min(10).default(60_000),
    NOTIFY_WEBHOOK_GIVE_UP_MS: z.coerce.number().int().min(1000).default(3_600_000),
  })
  .superRefine((v, ctx) => {
    if (v.OPS_INSTANCE_TIMEOUT_MS < 2 * v.OPS_STATS_INTERVAL_MS) {
      ctx.addIssue({ code: 'custom', path: ['OPS_INSTANCE_TIMEOUT_MS'], message: 'must be at least twice OPS_STATS_INTERVAL_MS (one lost sample must not drop an instance)' });
    }
    if (!v.JWT_SECRET && v.NODE_ENV === 'production') {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_SECRET'],
        message: 'is required when NODE_ENV is production (a development secret is used only outside production)',
      });
    }
    if (v.NOTIFY_WEBHOOK_URL && !v.NOTIFY_WEBHOOK_SECRET && v.NODE_ENV === 'production') {
      ctx.addIssue({ code: 'custom', path: ['NOTIFY_WEBHOOK_SECRET'], message: 'is required with NOTIFY_WEBHOOK_URL when NODE_ENV is production (unsigned webhooks only outside production)' });
    }
    if (v.NOTIFY_WEBHOOK_BACKOFF_MAX_MS < v.NOTIFY_WEBHOOK_BACKOFF_MS) {
      ctx.addIssue({ code: 'custom', path: ['NOTIFY_WEBHOOK_BACKOFF_MAX_MS'], message: 'must be at least NOTIFY_WEBHOOK_BACKOFF_MS' });
    }
  });

/** The per-connection and per-user limits of API.md; the token buckets and abuse bounds of SENDs and frames. */
export type Limits = ReturnType<typeof limitsOf>;
export type RateLimits = ReturnType<typeof ratesOf>;

/** Login throttling, sign-ups (the refill per second may be a fraction: 10 an hour) and room creation (accountsOf below). */
export type AccountLimits = ReturnType<typeof accountsOf>;

/** The offline-notification webhook's settings (NOTIFY_WEBHOOK_*, webhookConfig below); all durations in ms. */
export type WebhookConfig = NonNullable<ReturnType<typeof webhookConfig>>;

export interface Config {
  mode: Mode;
  env: 'development' | 'test' | 'production';
  port: number;
  stompTcpPort: number;
  /** false when STOMP_TCP_PORT was not given: a taken default port then turns TCP STOMP off with a warning. */
  stompTcpPortExplicit: boolean;
  host: string;
  /** Absolute path of the embedded mode's data folder (PGlite database, message log, generated dev secret). */
  dataDir: string;
  databaseUrl: string;
  redisUrl: string;
  /** Redis Sentinel: when set, the app asks these sentinels for the primary named `redisSentinelName` (REDIS_URL unused). */
  redisSentinels: Array<{ host: string; port: number }> | null;
  redisSentinelName: string;
  redisCommandTimeoutMs: number;
  /** WAIT timeout after critical writes in Sentinel mode (0: none). */
  redisWaitTimeoutMs: number;
  kafkaBrokers: string[];
  /** null: none given outside production; the embedded mode generates one, cluster mode uses DEV_JWT_SECRET. */
  jwtSecret: string | null;
  jwtTtlSeconds: number;
  roles: ReadonlySet<Role>;
  instanceId: string;
  logLevel: string;
  metricsToken: string | null;
  /** The metrics-only port (0: none): 9464 by default in production, off otherwise. */
  metricsPort: number;
  metricsHost: string;
  /** /metrics on PORT too: outside production, or in production with METRICS_TOKEN (then it needs the token). */
  metricsOnPublicPort: boolean;
  limits: Limits;
  heartbeatMs: number;
  connectTimeoutMs: number;
  frameTimeoutMs: number;
  httpRequestTimeoutMs: number;
  httpKeepAliveTimeoutMs: number;
  rate: RateLimits;
  accounts: AccountLimits;
  produceLingerMs: number;
  kafkaSessionTimeoutMs: number;
  kafkaAppendTimeoutMs: number;
  kafkaGroupPrefix: string;
  shutdownGraceMs: number;
  presenceTtlMs: number;
  /** null when NOTIFY_WEBHOOK_URL is not set. */
  webhook: WebhookConfig | null;
  ops: OpsSettings;
}

/** The operations console: administrators (lower-cased ADMIN_EMAILS), stats interval, instance timeout, history. */
export type OpsSettings = ReturnType<typeof opsOf>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The metrics port in production when METRICS_PORT is not given (the usual port of Node.js Prometheus exporters). */
export const DEFAULT_METRICS_PORT = 9464;

/** The shared secret of cluster instances in development and test when none is given (never in production). */
export const DEV_JWT_SECRET = 'dev-only-secret-do-not-use-in-production';

/** Parses and validates the environment. Throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings mean "unset" (a common shell mistake: FOO= npm start).
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(`invalid configuration:\n${z.prettifyError(parsed.error)}`);
  }
  const v = parsed.data;
  return {
    mode: v.MODE,
    env: v.NODE_ENV,
    port: v.PORT,
    stompTcpPort: v.STOMP_TCP_PORT,
    stompTcpPortExplicit: cleaned.STOMP_TCP_PORT !== undefined,
    host: v.HOST,
    dataDir: resolve(v.DATA_DIR),
    databaseUrl: v.DATABASE_URL,
    redisUrl: v.REDIS_URL,
    redisSentinels: v.REDIS_SENTINELS?.map(hostPort) ?? null,
    redisSentinelName: v.REDIS_SENTINEL_NAME,
    redisCommandTimeoutMs: v.REDIS_COMMAND_TIMEOUT_MS,
    redisWaitTimeoutMs: v.REDIS_WAIT_TIMEOUT_MS,
    kafkaBrokers: v.KAFKA_BROKERS,
    jwtSecret: v.JWT_SECRET ?? null,
    jwtTtlSeconds: v.JWT_TTL_SECONDS,
    roles: new Set(v.ROLES),
    instanceId: v.INSTANCE_ID ?? `${hostname()}:${v.PORT}`,
    logLevel: v.LOG_LEVEL,
    metricsToken: v.METRICS_TOKEN ?? null,
    metricsPort: v.METRICS_PORT ?? (v.NODE_ENV === 'production' ? DEFAULT_METRICS_PORT : 0),
    metricsHost: v.METRICS_HOST,
    metricsOnPublicPort: v.NODE_ENV !== 'production' || v.METRICS_TOKEN !== undefined,
    limits: limitsOf(v),
    heartbeatMs: v.HEARTBEAT_MS,
    connectTimeoutMs: v.CONNECT_TIMEOUT_MS,
    frameTimeoutMs: v.FRAME_TIMEOUT_MS,
    httpRequestTimeoutMs: v.HTTP_REQUEST_TIMEOUT_MS,
    httpKeepAliveTimeoutMs: v.HTTP_KEEPALIVE_TIMEOUT_MS,
    rate: ratesOf(v),
    accounts: accountsOf(v),
    produceLingerMs: v.PRODUCE_LINGER_MS,
    kafkaSessionTimeoutMs: v.KAFKA_SESSION_TIMEOUT_MS,
    kafkaAppendTimeoutMs: v.KAFKA_APPEND_TIMEOUT_MS,
    kafkaGroupPrefix: v.KAFKA_GROUP_PREFIX,
    shutdownGraceMs: v.SHUTDOWN_GRACE_MS,
    presenceTtlMs: v.PRESENCE_TTL_MS,
    ops: opsOf(v),
    webhook: webhookConfig(v),
  };
}

function webhookConfig(v: z.infer<typeof schema>) {
  if (!v.NOTIFY_WEBHOOK_URL) return null;
  return {
    url: v.NOTIFY_WEBHOOK_URL,
    /** null: unsigned POSTs (outside production only). */
    secret: v.NOTIFY_WEBHOOK_SECRET ?? null,
    windowMs: v.NOTIFY_WEBHOOK_WINDOW_MS,
    maxMessages: v.NOTIFY_WEBHOOK_MAX_MESSAGES,
    timeoutMs: v.NOTIFY_WEBHOOK_TIMEOUT_MS,
    concurrency: v.NOTIFY_WEBHOOK_CONCURRENCY,
    backoffMs: v.NOTIFY_WEBHOOK_BACKOFF_MS,
    backoffMaxMs: v.NOTIFY_WEBHOOK_BACKOFF_MAX_MS,
    giveUpMs: v.NOTIFY_WEBHOOK_GIVE_UP_MS,
  };
}

/** The per-connection and per-user limits of API.md. */
function limitsOf(v: z.infer<typeof schema>) {
  return {
    maxFrameBytes: v.MAX_FRAME_BYTES,
    maxContentBytes: v.MAX_CONTENT_BYTES,
    maxHeaders: v.MAX_HEADERS,
    maxHeaderBytes: v.MAX_HEADER_BYTES,
    maxSubscriptions: v.MAX_SUBSCRIPTIONS,
    maxOutboxBytes: v.MAX_OUTBOX_BYTES,
    maxTransactions: v.MAX_TRANSACTIONS,
    maxTransactionFrames: v.MAX_TRANSACTION_FRAMES,
    maxTransactionBytes: v.MAX_TRANSACTION_BYTES,
    maxUnacked: v.MAX_UNACKED,
    maxReplaysPerConnection: v.MAX_REPLAYS_PER_CONNECTION,
    maxReplaysPerUser: v.MAX_REPLAYS_PER_USER,
    replayMessagesPerMin: v.REPLAY_MESSAGES_PER_MIN,
    maxPendingPerIp: v.MAX_PENDING_PER_IP,
    maxConnections: v.MAX_CONNECTIONS,
  };
}

function validPort(hp: string): boolean {
  return ((p) => p >= 1 && p <= 65535)(hostPort(hp).port);
}

function hostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(i + 1)) };
}

function ratesOf(v: z.infer<typeof schema>) {
  return {
    connPerSec: v.RATE_CONN_PER_SEC,
    connBurst: v.RATE_CONN_BURST,
    userPerSec: v.RATE_USER_PER_SEC,
    userBurst: v.RATE_USER_BURST,
    framesPerSec: v.RATE_FRAMES_PER_SEC,
    framesBurst: v.RATE_FRAMES_BURST,
    abuseMs: v.RATE_ABUSE_MS,
    restSendsInFlight: v.MAX_REST_SENDS_IN_FLIGHT,
  };
}

function accountsOf(v: z.infer<typeof schema>) {
  return {
    loginFailuresPerAccount: v.LOGIN_FAILURES_PER_ACCOUNT,
    loginFailuresPerIp: v.LOGIN_FAILURES_PER_IP,
    loginWindowMs: v.LOGIN_WINDOW_MS,
    signupBurstPerIp: v.SIGNUP_BURST_PER_IP,
    signupPerSecPerIp: v.SIGNUP_PER_SEC_PER_IP ?? v.SIGNUP_PER_HOUR_PER_IP / 3600,
    roomsPerUserPerHour: v.ROOMS_PER_USER_PER_HOUR,
  };
}

function opsOf(v: z.infer<typeof schema>) {
  return {
    adminEmails: new Set(v.ADMIN_EMAILS) as ReadonlySet<string>,
    statsIntervalMs: v.OPS_STATS_INTERVAL_MS,
    instanceTimeoutMs: v.OPS_INSTANCE_TIMEOUT_MS,
    historySeconds: v.OPS_HISTORY_SECONDS,
  };
}
