// The only reader of process.env: one zod schema, validated at start-up.
import { hostname } from 'node:os';
import { z } from 'zod';

export const ROLE_NAMES = ['gateway', 'persist', 'broadcast', 'notify', 'receipts'] as const;
export type Role = (typeof ROLE_NAMES)[number];

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('production'),
    PORT: port.default(8080),
    STOMP_TCP_PORT: port.default(61613),
    HOST: z.string().min(1).default('0.0.0.0'),
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default('postgres://postgres@127.0.0.1:5432/chat'),
    REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
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
    INSTANCE_ID: z.string().min(1).optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    // Limits of API.md, configurable.
    MAX_FRAME_BYTES: positiveInt.default(64 * 1024),
    MAX_CONTENT_BYTES: positiveInt.default(4 * 1024),
    MAX_HEADERS: positiveInt.default(32),
    MAX_HEADER_BYTES: positiveInt.default(1024),
    MAX_SUBSCRIPTIONS: positiveInt.default(100),
    MAX_OUTBOX_BYTES: positiveInt.default(1024 * 1024),
    HEARTBEAT_MS: z.coerce.number().int().min(0).default(10_000),
    // A frame started but not completed within this time closes the connection (half-sent frames).
    FRAME_TIMEOUT_MS: positiveInt.default(30_000),
    // Token buckets: sustained rate per second and burst, per connection and per user.
    RATE_CONN_PER_SEC: positiveInt.default(200),
    RATE_CONN_BURST: positiveInt.default(400),
    RATE_USER_PER_SEC: positiveInt.default(400),
    RATE_USER_BURST: positiveInt.default(800),
    // Producer batching window: sends of this many ms go to Kafka in one request.
    PRODUCE_LINGER_MS: z.coerce.number().int().min(0).max(1000).default(2),
    KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(3000).default(10_000),
    SHUTDOWN_GRACE_MS: positiveInt.default(25_000),
    // A session not refreshed for this long counts as gone (bounds how long a killed instance's users stay online).
    PRESENCE_TTL_MS: z.coerce.number().int().min(1000).default(30_000),
  })
  .superRefine((v, ctx) => {
    if (!v.JWT_SECRET && v.NODE_ENV === 'production') {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_SECRET'],
        message: 'is required when NODE_ENV is production (a dev default exists only for development and test)',
      });
    }
  });

export interface Config {
  env: 'development' | 'test' | 'production';
  port: number;
  stompTcpPort: number;
  host: string;
  databaseUrl: string;
  redisUrl: string;
  kafkaBrokers: string[];
  jwtSecret: string;
  jwtTtlSeconds: number;
  roles: ReadonlySet<Role>;
  instanceId: string;
  logLevel: string;
  limits: {
    maxFrameBytes: number;
    maxContentBytes: number;
    maxHeaders: number;
    maxHeaderBytes: number;
    maxSubscriptions: number;
    maxOutboxBytes: number;
  };
  heartbeatMs: number;
  frameTimeoutMs: number;
  rate: { connPerSec: number; connBurst: number; userPerSec: number; userBurst: number };
  produceLingerMs: number;
  kafkaSessionTimeoutMs: number;
  shutdownGraceMs: number;
  presenceTtlMs: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const DEV_JWT_SECRET = 'dev-only-secret-do-not-use-in-production';

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
    env: v.NODE_ENV,
    port: v.PORT,
    stompTcpPort: v.STOMP_TCP_PORT,
    host: v.HOST,
    databaseUrl: v.DATABASE_URL,
    redisUrl: v.REDIS_URL,
    kafkaBrokers: v.KAFKA_BROKERS,
    jwtSecret: v.JWT_SECRET ?? DEV_JWT_SECRET,
    jwtTtlSeconds: v.JWT_TTL_SECONDS,
    roles: new Set(v.ROLES),
    instanceId: v.INSTANCE_ID ?? `${hostname()}:${v.PORT}`,
    logLevel: v.LOG_LEVEL,
    limits: {
      maxFrameBytes: v.MAX_FRAME_BYTES,
      maxContentBytes: v.MAX_CONTENT_BYTES,
      maxHeaders: v.MAX_HEADERS,
      maxHeaderBytes: v.MAX_HEADER_BYTES,
      maxSubscriptions: v.MAX_SUBSCRIPTIONS,
      maxOutboxBytes: v.MAX_OUTBOX_BYTES,
    },
    heartbeatMs: v.HEARTBEAT_MS,
    frameTimeoutMs: v.FRAME_TIMEOUT_MS,
    rate: {
      connPerSec: v.RATE_CONN_PER_SEC,
      connBurst: v.RATE_CONN_BURST,
      userPerSec: v.RATE_USER_PER_SEC,
      userBurst: v.RATE_USER_BURST,
    },
    produceLingerMs: v.PRODUCE_LINGER_MS,
    kafkaSessionTimeoutMs: v.KAFKA_SESSION_TIMEOUT_MS,
    shutdownGraceMs: v.SHUTDOWN_GRACE_MS,
    presenceTtlMs: v.PRESENCE_TTL_MS,
  };
}
