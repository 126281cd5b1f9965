// The operations console's parts on one instance, wired from the app: who is an administrator (ADMIN_EMAILS), the
// monitor (stats over the bus, overview, alerts, /topic/ops), the dead letters (list, replay, discard) and the
// given-up webhook deliveries (list, retry, discard).
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Infra } from '../infra/infra.js';
import type { Metrics } from '../metrics/metrics.js';
import type { WebhookDeliveries } from '../notifications/deliveries.js';
import type { User } from '../shared/model.js';
import { DeadLetters } from './dead-letters.js';
import { OpsMonitor } from './monitor.js';
import { StatsSampler } from './stats.js';

export interface OpsConsole {
  monitor: OpsMonitor;
  deadLetters: DeadLetters;
  /** Offline-notification webhook deliveries that were given up (list, retry, discard). */
  webhookDeliveries: WebhookDeliveries;
  /** Administrators are the accounts whose e-mail is in ADMIN_EMAILS (case-insensitive). */
  isAdmin(user: Pick<User, 'email'>): boolean;
  /** How audit lines name a user. */
  actorOf(user: Pick<User, 'id' | 'email'>): string;
  close(): Promise<void>;
}

export interface OpsConsoleDeps {
  config: Config;
  log: Logger;
  infra: Pick<Infra, 'bus' | 'deadLetters' | 'deadLetterMarks' | 'lag'>;
  metrics: Metrics;
  /** Authenticated STOMP sessions on this instance. */
  sessions(): number;
  /** This process' consumer groups and whether each is up (the readiness the metrics report). */
  groups(): Array<{ group: string; ready: boolean }>;
  webhookDeliveries: WebhookDeliveries;
}

export async function startOpsConsole(deps: OpsConsoleDeps): Promise<OpsConsole> {
  const { config, log, infra } = deps;
  const opsLog = log.child({ component: 'ops' });
  const deadLetters = new DeadLetters(infra.deadLetters, infra.deadLetterMarks, opsLog);
  const sampler = new StatsSampler({
    instanceId: config.instanceId,
    roles: [...config.roles],
    mode: config.mode,
    registry: deps.metrics.registry,
    sessions: deps.sessions,
    groups: deps.groups,
  });
  const monitor = new OpsMonitor({
    instanceId: config.instanceId,
    intervalMs: config.ops.statsIntervalMs,
    timeoutMs: config.ops.instanceTimeoutMs,
    historySeconds: config.ops.historySeconds,
    bus: infra.bus,
    sampler,
    lag: infra.lag ? () => infra.lag!() : null,
    counts: { deadLetters: () => deadLetters.pending(), failedDeliveries: () => deps.webhookDeliveries.failedCount() },
    log: opsLog,
  });
  await monitor.start();
  const admins = config.ops.adminEmails;
  return {
    monitor,
    deadLetters,
    webhookDeliveries: deps.webhookDeliveries,
    isAdmin: (user) => admins.has(user.email.toLowerCase()),
    actorOf: (user) => `user:${user.id} ${user.email}`,
    close: () => monitor.close(),
  };
}
