// Wiring of the offline-notification webhook: which processes run the delivery worker (those with the `notify`
// role, when NOTIFY_WEBHOOK_URL is set: the notify consumer writes the outbox there, and every such instance
// shares the work through the store), and the operators' service for failed deliveries (every instance).
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics/metrics.js';
import type { WebhookOutbox } from './outbox.js';
import { WebhookDeliveries } from './deliveries.js';
import { WebhookWorker } from './worker.js';

/** The outbox scope of this deployment (null: no webhook, the notify consumer queues nothing). */
export function webhookScope(config: Pick<Config, 'webhook' | 'kafkaGroupPrefix'>): string | null {
  return config.webhook ? config.kafkaGroupPrefix : null;
}

export function createWebhook(config: Config, store: WebhookOutbox, metrics: Metrics, log: Logger) {
  const wlog = log.child({ component: 'webhook' });
  const deliveries = new WebhookDeliveries(store, config.kafkaGroupPrefix, wlog);
  let worker: WebhookWorker | null = null;
  if (config.webhook && config.roles.has('notify')) {
    if (config.webhook.secret === null) wlog.warn('NOTIFY_WEBHOOK_SECRET is not set: webhook POSTs go out unsigned (refused in production)');
    worker = new WebhookWorker({
      outbox: store,
      settings: config.webhook,
      scope: config.kafkaGroupPrefix,
      metrics: metrics.webhook,
      log: wlog,
    });
  }
  return { deliveries, worker };
}
