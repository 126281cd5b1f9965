// MODE=cluster: the real PostgreSQL, Redis and Kafka at their URLs (what `npm run stack:up` provides).
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { RedisAckPositions } from '../counters/ack-positions-redis.js';
import { RedisIdempotencyStore } from '../counters/idempotency-redis.js';
import { RedisLeases } from '../counters/leases-redis.js';
import { RedisMembershipLeases } from '../counters/membership-leases-redis.js';
import { RedisPresence } from '../counters/presence-redis.js';
import { RedisRateWindows } from '../counters/rate-windows-redis.js';
import { RedisReadPositions } from '../counters/read-positions-redis.js';
import { ReplicaWait } from '../counters/replica-wait-redis.js';
import { RedisFanoutBus } from '../fanout/redis.js';
import type { Metrics } from '../metrics/metrics.js';
import { KafkaLagSource } from '../metrics/kafka-lag.js';
import { KafkaConsumerGroups } from '../kafka/consumer-groups.js';
import { KafkaDeadLetters } from '../kafka/dead-letters.js';
import { KafkaMessageLog, createKafka } from '../kafka/kafka-log.js';
import { KyselyDeadLetterMarks } from '../store/kysely-dead-letter-marks.js';
import { KyselyStore } from '../store/kysely.js';
import { Closers } from './closers.js';
import type { Infra } from './infra.js';
import { RedisConnections, redactUrl } from './redis.js';

export async function openClusterInfra(config: Config, log: Logger, metrics: Metrics): Promise<Infra> {
  const closers = new Closers(log);
  try {
    const store = new KyselyStore({ connectionString: config.databaseUrl, max: 10 });
    closers.add('store', () => store.close());
    await store.ping();

    const connections = new RedisConnections(config, log, metrics);
    closers.add('redis', () => connections.close());
    const [redis, durable] = [connections.get('commands'), connections.get('durable')];
    await Promise.all([redis.ping(), durable.ping()]);
    const replicaWait = {
      ...connections.replicaWait,
      observe: (outcome: 'acked' | 'timeout' | 'failed', s: number) => metrics.redisReplicaWait.observe({ outcome }, s),
    };
    const durableWait = new ReplicaWait(durable, replicaWait);
    closers.add('redis replica count', () => durableWait.close());

    const { messageLog, consumers, deadLetters, lagSource } = await openKafka(config, log, metrics, closers);

    const bus = new RedisFanoutBus({ publisher: connections.get('publisher'), subscriber: connections.get('subscriber'), replicaWait }, log);
    closers.add('fan-out bus', () => bus.close());
    await bus.ping();

    return {
      description: `cluster: PostgreSQL ${redactUrl(config.databaseUrl)}, ${connections.describe()}, Kafka ${config.kafkaBrokers.join(',')}`,
      store,
      messageLog,
      consumers,
      bus,
      presence: new RedisPresence(redis, config.presenceTtlMs),
      positions: new RedisReadPositions(durable, durableWait),
      acks: new RedisAckPositions(redis),
      idempotency: new RedisIdempotencyStore(durable, durableWait),
      leases: new RedisLeases(redis),
      membershipLeases: new RedisMembershipLeases(durable, durableWait),
      rates: new RedisRateWindows(redis),
      deadLetters,
      deadLetterMarks: new KyselyDeadLetterMarks(store.db),
      lag: () => lagSource.lag(),
      readiness: {
        postgres: () => store.ping(),
        // Every connection up (none reconnecting or looking for a new primary), and the primary answering.
        redis: async () => {
          connections.assertReady();
          await redis.ping();
        },
        kafka: () => messageLog.ping(),
      },
      close: () => closers.closeAll(),
    };
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}

/** The Kafka side: the message log, the consumer groups, the dead-letter topic and the lag source (closed by `closers`). */
async function openKafka(config: Config, log: Logger, metrics: Metrics, closers: Closers) {
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
  return { messageLog, consumers, deadLetters, lagSource };
}
