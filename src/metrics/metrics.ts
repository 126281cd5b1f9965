// Every Prometheus metric of the process, in one place. `chat_` prefix, units in names, small label sets.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
  consumedRecords: Counter<'group'>;
  consumerLag: Gauge<'group'>;
  deadLettered: Counter<'group'>;
  persistedMessages: Counter;
  gapRepairs: Counter;
  slowConsumersClosed: Counter;
  httpRequests: Counter<'method' | 'status'>;
}

export function createMetrics(instanceId: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ instance_id: instanceId });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    sessionsActive: new Gauge({ name: 'chat_sessions_active', help: 'Open STOMP sessions', labelNames: ['transport'], registers }),
    framesIn: new Counter({ name: 'chat_frames_received_total', help: 'STOMP frames received', labelNames: ['command'], registers }),
    framesOut: new Counter({ name: 'chat_frames_sent_total', help: 'STOMP frames sent', labelNames: ['command'], registers }),
    stompErrors: new Counter({ name: 'chat_stomp_errors_total', help: 'ERROR frames sent', labelNames: ['code'], registers }),
    messagesSent: new Counter({ name: 'chat_messages_sent_total', help: 'Messages acknowledged by Kafka', labelNames: ['via'], registers }),
    messagesDelivered: new Counter({ name: 'chat_messages_delivered_total', help: 'MESSAGE frames written to subscribers', registers }),
    e2eLatency: new Histogram({
      name: 'chat_message_e2e_latency_seconds',
      help: 'From message creation at the gateway to the MESSAGE frame written on this instance',
      buckets: [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers,
    }),
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
    consumedRecords: new Counter({ name: 'chat_kafka_consumed_records_total', help: 'Records processed and committed', labelNames: ['group'], registers }),
    consumerLag: new Gauge({ name: 'chat_kafka_consumer_lag', help: 'Offset lag of the last batch', labelNames: ['group'], registers }),
    deadLettered: new Counter({ name: 'chat_dead_lettered_total', help: 'Records sent to chat.messages.dlt', labelNames: ['group'], registers }),
    persistedMessages: new Counter({ name: 'chat_messages_persisted_total', help: 'Message rows inserted', registers }),
    gapRepairs: new Counter({ name: 'chat_fanout_gap_repairs_total', help: 'Messages recovered from the store after a fan-out gap', registers }),
    slowConsumersClosed: new Counter({ name: 'chat_slow_consumers_closed_total', help: 'Sessions closed for exceeding the output bound', registers }),
    httpRequests: new Counter({ name: 'chat_http_requests_total', help: 'HTTP requests', labelNames: ['method', 'status'], registers }),
  };
}
