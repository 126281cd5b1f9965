// Every Prometheus metric of the process, in one place. `chat_` prefix, units in names, small label sets.
// Counters with a known, fixed label set start at zero for every value (so increase()/rate() see the first
// event); lag and consumer-group readiness are computed at scrape time from sources attached after start-up.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DROPPED_FAILURES } from '../shared/dropped.js';
import { STOMP_ERROR_CODES } from '../shared/errors.js';
import { ConsumerGroupReadyCollector, ConsumerLagCollector, type LagSource, type ReadinessProvider } from './consumer-lag.js';
import { CONSUMER_GROUP_TOPICS } from './kafka-lag.js';
import { webhookMetrics, type WebhookMetrics } from './webhook.js';

/** The consumer groups of src/consumers/ (label values of the per-group metrics). */
export const CONSUMER_GROUPS: readonly string[] = Object.freeze(CONSUMER_GROUP_TOPICS.map((g) => g.group));

/** Ways a message enters the system (label `via` of chat_messages_sent_total). */
export const SEND_PATHS = Object.freeze(['stomp', 'rest'] as const);

/** The app's Redis connections (label `connection`; src/infra/redis.ts makes them). */
export const REDIS_CONNECTIONS = Object.freeze(['commands', 'durable', 'publisher', 'subscriber'] as const);

/**
 * prom-client default gauges whose names end in `_total`, which Prometheus reserves for counters
 * (`promtool check metrics` rejects them). Their per-type siblings (`nodejs_active_handles{type}` …) stay.
 */
export const DROPPED_DEFAULT_METRICS = Object.freeze(['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']);

export interface Metrics {
  registry: Registry;
  sessionsActive: Gauge<'transport'>;
  framesIn: Counter<'command'>;
  framesOut: Counter<'command'>;
  stompErrors: Counter<'code'>;
  messagesSent: Counter<'via'>;
  messagesDelivered: Counter;
  e2eLatency: Histogram;
  produceLatency: Histogram;
  produceBatchSize: Histogram;
  /** Records whose caller's deadline passed while Kafka still had them (their outcome came later). */
  produceInDoubt: Counter;
  /** Idempotent producers replaced after a fatal send error (new producer id, fresh sequence numbers). */
  producerResets: Counter;
  /** Consumers replaced because their group stopped moving while records waited (the watchdog). */
  consumerRestarts: Counter<'group'>;
  consumerBatchSize: Histogram<'group'>;
  consumedRecords: Counter<'group'>;
  /**
   * Records after each group's committed offset, per topic and partition. Computed at scrape time once a
   * LagSource is attached (setLagSource); until then it holds whatever was `set()` on it.
   */
  consumerLag: Gauge<'group' | 'topic' | 'partition'>;
  /** Scrapes at which the lag source failed or timed out (the previous lag figures were kept). */
  consumerLagErrors: Counter;
  /** 1 when this process' consumer of the group is up, 0 while it is down; from setConsumerGroupReadiness. */
  consumerGroupReady: Gauge<'group'>;
  deadLettered: Counter<'group'>;
  persistedMessages: Counter;
  gapRepairs: Counter;
  slowConsumersClosed: Counter;
  /** A Redis connection came back (a restart, a network cut, or a Sentinel failover to a new primary). */
  redisReconnects: Counter<'connection'>;
  /** WAIT 1 after critical writes (Sentinel mode): how long it took and whether the replica acknowledged in time. */
  redisReplicaWait: Histogram<'outcome'>;
  /** Best-effort work whose failure is dropped on purpose (shared/dropped.ts), by what was dropped. */
  failuresDropped: Counter<'what'>;
  /** route = the route pattern (`/api/rooms/:id`) or `unmatched`; see http.ts. */
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  /** The offline-notification webhook (metrics/webhook.ts). */
  webhook: WebhookMetrics;
  /** Computes chat_kafka_consumer_lag from `source` on every scrape (null detaches). */
  setLagSource(source: LagSource | null): void;
  /** Reports chat_consumer_group_ready from `provider` on every scrape (null detaches). */
  setConsumerGroupReadiness(provider: ReadinessProvider | null): void;
}

export interface MetricsOptions {
  /**
   * Prefix of the consumer group ids (config KAFKA_GROUP_PREFIX): the per-group counters start at zero for
   * `prefix + group`, the label value the consumers count under.
   */
  groupPrefix?: string;
}

export function createMetrics(instanceId: string, opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ instance_id: instanceId });
  collectDefaultMetrics({ register: registry });
  for (const name of DROPPED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  const registers = [registry];

  const stompErrors = new Counter({ name: 'chat_stomp_errors_total', help: 'ERROR frames sent', labelNames: ['code'], registers });
  for (const code of STOMP_ERROR_CODES) stompErrors.inc({ code }, 0);
  const messagesSent = new Counter({ name: 'chat_messages_sent_total', help: 'Messages acknowledged by Kafka', labelNames: ['via'], registers });
  for (const via of SEND_PATHS) messagesSent.inc({ via }, 0);
  const failuresDropped = new Counter({
    name: 'chat_failures_dropped_total',
    help: 'Failures of best-effort work dropped on purpose (repaired elsewhere), by what was dropped',
    labelNames: ['what'],
    registers,
  });
  for (const what of DROPPED_FAILURES) failuresDropped.inc({ what }, 0);
  const consumers = consumerMetrics(registers, opts.groupPrefix ?? '');

  return {
    registry,
    sessionsActive: new Gauge({ name: 'chat_sessions_active', help: 'Open STOMP sessions', labelNames: ['transport'], registers }),
    framesIn: new Counter({ name: 'chat_frames_received_total', help: 'STOMP frames received', labelNames: ['command'], registers }),
    framesOut: new Counter({ name: 'chat_frames_sent_total', help: 'STOMP frames sent', labelNames: ['command'], registers }),
    stompErrors,
    messagesSent,
    messagesDelivered: new Counter({ name: 'chat_messages_delivered_total', help: 'MESSAGE frames written to subscribers', registers }),
    e2eLatency: new Histogram({
      name: 'chat_message_e2e_latency_seconds',
      help: 'From message creation at the gateway to the MESSAGE frame written on this instance',
      buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers,
    }),
    ...producerMetrics(registers),
    consumerBatchSize: new Histogram({
      name: 'chat_kafka_consumer_batch_size',
      help: 'Records per batch handled by a consumer group (bigger batches: fewer queries and publishes per message)',
      labelNames: ['group'],
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers,
    }),
    consumerRestarts: consumers.consumerRestarts,
    consumedRecords: consumers.consumedRecords,
    consumerLag: consumers.consumerLag,
    consumerLagErrors: consumers.consumerLagErrors,
    consumerGroupReady: consumers.consumerGroupReady,
    deadLettered: consumers.deadLettered,
    persistedMessages: new Counter({ name: 'chat_messages_persisted_total', help: 'Message rows inserted', registers }),
    gapRepairs: new Counter({ name: 'chat_fanout_gap_repairs_total', help: 'Messages recovered from the store after a fan-out gap', registers }),
    slowConsumersClosed: new Counter({ name: 'chat_slow_consumers_closed_total', help: 'Sessions closed for exceeding the output bound', registers }),
    ...redisMetrics(registers),
    failuresDropped,
    httpRequests: new Counter({
      name: 'chat_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern (or unmatched) and status code',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'chat_http_request_duration_seconds',
      help: 'HTTP request duration from arrival to the response written, by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    webhook: webhookMetrics(registers),
    setLagSource: (source) => consumers.lag.attach(source),
    setConsumerGroupReadiness: (provider) => consumers.ready.attach(provider),
  };
}

/** Redis connections coming back, and the WAIT for the replica after critical writes (Sentinel mode). */
function redisMetrics(registers: Registry[]): Pick<Metrics, 'redisReconnects' | 'redisReplicaWait'> {
  const redisReconnects = new Counter({
    name: 'chat_redis_reconnects_total',
    help: 'Redis connections re-established (restart, network cut, failover)',
    labelNames: ['connection'],
    registers,
  });
  for (const connection of REDIS_CONNECTIONS) redisReconnects.inc({ connection }, 0);
  const redisReplicaWait = new Histogram({
    name: 'chat_redis_replica_wait_seconds',
    help: 'WAIT for the replica after a write a guarantee rests on (Sentinel mode), by outcome',
    labelNames: ['outcome'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5],
    registers,
  });
  return { redisReconnects, redisReplicaWait };
}

/** The consumer groups' metrics: lag and readiness computed at scrape time, per-group counters from zero. */
function consumerMetrics(registers: Registry[], groupPrefix: string) {
  // The error counter is registered after the lag gauge and waits for its collect, so a scrape shows the
  // failure it just had.
  const lag = new ConsumerLagCollector({ inc: () => consumerLagErrors.inc() });
  const ready = new ConsumerGroupReadyCollector();
  const consumerLag: Gauge<'group' | 'topic' | 'partition'> = new Gauge({
    name: 'chat_kafka_consumer_lag',
    help: "Records after the consumer group's committed offset (partition end offset - committed offset), read at scrape time",
    labelNames: ['group', 'topic', 'partition'],
    registers,
    collect: () => lag.collect(consumerLag),
  });
  const consumerLagErrors: Counter = new Counter({
    name: 'chat_kafka_consumer_lag_errors_total',
    help: 'Scrapes at which Kafka offsets could not be read for chat_kafka_consumer_lag (previous figures kept)',
    registers,
    collect: () => lag.settled(),
  });
  const consumerGroupReady: Gauge<'group'> = new Gauge({
    name: 'chat_consumer_group_ready',
    help: "1 when this process' consumer of the group is running, 0 while it is down (crashed, restarting)",
    labelNames: ['group'],
    registers,
    collect: () => ready.collect(consumerGroupReady),
  });

  const consumedRecords = new Counter({ name: 'chat_kafka_consumed_records_total', help: 'Records processed and committed', labelNames: ['group'], registers });
  const deadLettered = new Counter({ name: 'chat_dead_lettered_total', help: 'Records sent to chat.messages.dlt', labelNames: ['group'], registers });
  const consumerRestarts = new Counter({
    name: 'chat_kafka_consumer_restarts_total',
    help: 'Consumers replaced because their group stopped moving while records waited, or crashed',
    labelNames: ['group'],
    registers,
  });
  for (const name of CONSUMER_GROUPS) {
    const group = groupPrefix + name;
    consumedRecords.inc({ group }, 0);
    deadLettered.inc({ group }, 0);
    consumerRestarts.inc({ group }, 0);
  }

  return { lag, ready, consumerLag, consumerLagErrors, consumerGroupReady, consumedRecords, deadLettered, consumerRestarts };
}

/** The Kafka producer's metrics (src/kafka/produce-lane.ts). */
function producerMetrics(registers: Registry[]) {
  return {
    produceLatency: new Histogram({
      name: 'chat_kafka_produce_latency_seconds',
      help: 'Kafka produce request round trip',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1],
      registers,
    }),
    produceBatchSize: new Histogram({
      name: 'chat_kafka_produce_batch_size',
      help: 'Messages per produce request',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
      registers,
    }),
    produceInDoubt: new Counter({
      name: 'chat_kafka_produce_in_doubt_total',
      help: 'Records whose caller timed out while Kafka still had them in flight (the caller got server-unavailable)',
      registers,
    }),
    producerResets: new Counter({ name: 'chat_kafka_producer_resets_total', help: 'Idempotent producers replaced after a fatal send error', registers }),
  };
}
