// Metrics of the offline-notification webhook (src/notifications/), every label value from zero so increase()
// and rate() see the first event. compose/prometheus/alerts.yml alerts on given-up deliveries and on a receiver
// that keeps failing.
import { Counter, Histogram, type Registry } from 'prom-client';

/** How one POST ended. */
export const REQUEST_OUTCOMES = Object.freeze(['ok', 'http_4xx', 'http_5xx', 'http_other', 'timeout', 'network'] as const);
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

/** How a delivery ended: 2xx, given up (recorded failed), or dropped (the member left the room meanwhile). */
export const DELIVERY_OUTCOMES = Object.freeze(['delivered', 'failed', 'dropped'] as const);
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

export interface WebhookMetrics {
  requests: Counter<'outcome'>;
  requestDuration: Histogram;
  deliveries: Counter<'outcome'>;
  messagesDelivered: Counter;
}

export function webhookMetrics(registers: Registry[]): WebhookMetrics {
  const requests = new Counter({
    name: 'chat_webhook_requests_total',
    help: 'Webhook POSTs by outcome (ok = 2xx; a delivery may take several)',
    labelNames: ['outcome'],
    registers,
  });
  for (const outcome of REQUEST_OUTCOMES) requests.inc({ outcome }, 0);
  const deliveries = new Counter({
    name: 'chat_webhook_deliveries_total',
    help: 'Webhook deliveries settled: delivered (2xx), failed (given up, kept for an operator), dropped (member left)',
    labelNames: ['outcome'],
    registers,
  });
  for (const outcome of DELIVERY_OUTCOMES) deliveries.inc({ outcome }, 0);
  return {
    requests,
    deliveries,
    requestDuration: new Histogram({
      name: 'chat_webhook_request_duration_seconds',
      help: 'Webhook POST round trip, until the answer or the timeout',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    messagesDelivered: new Counter({ name: 'chat_webhook_messages_delivered_total', help: 'Messages in delivered webhook POSTs', registers }),
  };
}
