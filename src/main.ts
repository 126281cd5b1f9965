// Composition root: config -> logger -> infrastructure (cluster or embedded) -> app -> signals.
import { pino, type Logger } from 'pino';
import { startApp, type App } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import type { Infra } from './infra/infra.js';
import { createMetrics } from './metrics/metrics.js';

/**
 * Opens the mode's infrastructure, loading only that mode's adapters: the embedded process never loads kafkajs or
 * ioredis, the cluster process never loads PGlite (test/integration/embedded-no-kafkajs.test.ts checks the first).
 */
async function openInfra(config: Config, log: Logger, metrics: ReturnType<typeof createMetrics>): Promise<Infra> {
  if (config.mode === 'cluster') {
    const { openClusterInfra } = await import('./infra/cluster.js');
    return openClusterInfra(config, log, metrics);
  }
  const { openEmbeddedInfra } = await import('./infra/embedded.js');
  return openEmbeddedInfra(config, log, metrics);
}

function banner(config: Config, infra: Infra, app: App): string {
  const lines = [
    `kafka-stomp-chat is running (${config.mode} mode, instance ${config.instanceId})`,
    `  web client   http://localhost:${app.port}/`,
    `  REST         http://localhost:${app.port}/api   WebSocket STOMP ws://localhost:${app.port}/ws`,
    app.stompTcpPort ? `  STOMP/TCP    localhost:${app.stompTcpPort}` : '  STOMP/TCP    off',
    ...(app.metricsPort ? [`  metrics      http://${config.metricsHost}:${app.metricsPort}/metrics`] : []),
    `  data         ${infra.description}`,
    config.mode === 'embedded'
      ? '  cluster mode: MODE=cluster npm start (PostgreSQL, Redis and Kafka from `npm run stack:up`)'
      : '  embedded mode: unset MODE (one process, no outside services)',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = pino({
    level: config.logLevel,
    base: { instanceId: config.instanceId },
    redact: {
      paths: ['req.headers.authorization', '*.password', '*.passcode', '*.accessToken', '*.token', 'headers.authorization', 'headers.passcode'],
      censor: '[redacted]',
    },
  });
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  process.on('uncaughtException', (err) => log.fatal({ err }, 'uncaught exception'));
  // kafkajs 2.2.4 sets negative timers on Node >= 24 (tulios/kafkajs#1751): harmless (Node clamps them to 1 ms),
  // but not worth a warning line per connection.
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (w.name !== 'TimeoutNegativeWarning') log.warn({ err: w }, 'process warning');
  });

  const metrics = createMetrics(config.instanceId, { groupPrefix: config.kafkaGroupPrefix });
  let infra: Infra;
  let app: App;
  try {
    infra = await openInfra(config, log, metrics);
  } catch (err) {
    log.fatal({ err, mode: config.mode }, 'start-up failed: the infrastructure is not available');
    if (config.mode === 'cluster') process.stderr.write('cluster mode needs PostgreSQL, Redis and Kafka: `npm run stack:up` starts them locally\n');
    process.exit(1);
  }
  if (infra.lag) metrics.setLagSource({ lag: () => infra.lag!() });
  try {
    app = await startApp(config, log, infra, metrics);
  } catch (err) {
    log.fatal({ err }, 'start-up failed');
    const e = err as { code?: string; port?: number };
    if (e.code === 'EADDRINUSE')
      process.stderr.write(`port ${e.port ?? ''} is already in use: set PORT (HTTP), STOMP_TCP_PORT or METRICS_PORT (0 turns either off)\n`);
    // Exiting on the start-up error already logged; the process's end releases whatever close could not.
    await infra.close().catch(() => {});
    process.exit(1);
  }
  if (process.stdout.isTTY || config.mode === 'embedded') process.stderr.write(`\n${banner(config, infra, app)}\n\n`);

  let signalled = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (signalled) return;
      signalled = true;
      log.info({ signal }, 'signal received');
      const force = setTimeout(() => {
        log.error('shutdown took too long; exiting');
        process.exit(1);
      }, config.shutdownGraceMs);
      force.unref();
      void app.close().then(() => process.exit(0));
    });
  }
}

void main();
