// MODE=cluster: the real PostgreSQL, Redis and Kafka at their URLs (what `npm run stack:up` provides).
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { RedisAckPositions } from '../counters/ack-positions-redis.js';
import { RedisIdempotencyStore } from '../counters/idempotency-redis.js';
import { RedisLeases } from '../counters/leases-redis.js';
import { RedisPresence } from '../counters/presence-redis.js';
import { RedisRateWindows } from '../counters/rate-windows-redis.js';
import { RedisReadPositions } from '../counters/read-positions-redis.js';
import { RedisFanoutBus } from '../fanout/redis.js';
import type { Metrics } from '../metrics/metrics.js';
import { KafkaLagSource } from '../metrics/kafka-lag.js';
import { KafkaConsumerGroups } from '../pipeline/kafka-consumers.js';
import { KafkaDeadLetters } from '../pipeline/kafka-dead-letters.js';
import { KafkaMessageLog, createKafka } from '../pipeline/kafka.js';
import { KyselyDeadLetterMarks } from '../store/kysely-dead-letter-marks.js';
import { KyselyStore } from '../store/kysely.js';
import { Closers } from './closers.js';
import type { Infra } from './infra.js';

export async function openClusterInfra(config: Config, log: Logger, metrics: Metrics): Promise<Infra> {
  const closers = new Closers(log);
  try {
    const store = new KyselyStore({ connectionString: config.databaseUrl, max: 10 });
    closers.add('store', () => store.close());
    await store.ping();

    const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
    redis.on('error', (err) => log.warn({ err }, 'redis connection error'));
    closers.add('redis', () => redis.quit());
    await redis.ping();

    const kafka = createKafka(config.kafkaBrokers, `chat-${config.instanceId}`, log);
    const messageLog = new KafkaMessageLog({
      kafka,
      instanceId: config.instanceId,
      log,
      metrics,
      lingerMs: config.produceLingerMs,
      appendTimeoutMs: config.kafkaAppendTimeoutMs,
    });
    await messageLog.connect();
    closers.add('message log', () => messageLog.close());

    // Consumer lag for /metrics: committed vs end offsets of every group, read at scrape time (cached 1 s).
    const lagAdmin = kafka.admin();
    await lagAdmin.connect();
    closers.add('lag admin', () => lagAdmin.disconnect());
    const lagSource = new KafkaLagSource({ admin: lagAdmin, groupPrefix: config.kafkaGroupPrefix });

    const consumers = new KafkaConsumerGroups({
      kafka,
      log,
      metrics,
      deadLetter: messageLog,
      sessionTimeoutMs: config.kafkaSessionTimeoutMs,
    });
    closers.add('consumer watchdog admin', () => consumers.close());
    const deadLetters = new KafkaDeadLetters({ kafka, readerGroupPrefix: `${config.kafkaGroupPrefix}chat-dlt-reader` });
    closers.add('dead letters', () => deadLetters.close());

    const bus = new RedisFanoutBus(config.redisUrl, log);
    closers.add('fan-out bus', () => bus.close());
    await bus.ping();

    return {
      description: `cluster: PostgreSQL ${redactUrl(config.databaseUrl)}, Redis ${redactUrl(config.redisUrl)}, Kafka ${config.kafkaBrokers.join(',')}`,
      store,
      messageLog,
      consumers,
      bus,
      presence: new RedisPresence(redis, config.presenceTtlMs),
      positions: new RedisReadPositions(redis),
      acks: new RedisAckPositions(redis),
      idempotency: new RedisIdempotencyStore(redis),
      leases: new RedisLeases(redis),
      rates: new RedisRateWindows(redis),
      deadLetters,
      deadLetterMarks: new KyselyDeadLetterMarks(store.db),
      lag: () => lagSource.lag(),
      readiness: {
        postgres: () => store.ping(),
        redis: async () => void (await redis.ping()),
        kafka: () => messageLog.ping(),
      },
      close: () => closers.closeAll(),
    };
  } catch (err) {
    await closers.closeAll();
    throw err;
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
