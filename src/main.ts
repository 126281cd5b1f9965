// Composition root: config -> adapters -> services -> servers -> listen; closes in reverse order.
import { withTimeout } from './timeout.js';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { createAuthenticator } from './auth/authenticate.js';
import { createTokenService } from './auth/tokens.js';
import { ReadService } from './chat/reads.js';
import { ChatService } from './chat/service.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { RedisAckPositions } from './counters/ack-positions.js';
import { RedisIdempotencyStore } from './counters/idempotency-redis.js';
import { RedisPresence } from './counters/presence-redis.js';
import { RedisReadPositions } from './counters/read-positions-redis.js';
import { BusEventPublisher } from './fanout/events.js';
import { lastSeqKey } from './fanout/fanout.js';
import { Hub } from './fanout/hub.js';
import { RedisFanoutBus } from './fanout/redis.js';
import { PresenceTracker } from './gateway/presence-tracker.js';
import { BucketMap, TokenBucket } from './gateway/rate-limit.js';
import { Session, type Transport } from './gateway/session.js';
import { startTcpGateway, type TcpGateway } from './gateway/tcp.js';
import { attachWebSocketGateway, type WsGateway } from './gateway/ws.js';
import { buildHttp } from './http/server.js';
import { createMetrics } from './metrics/metrics.js';
import { BROADCAST_GROUP, broadcastHandler } from './pipeline/broadcast.js';
import { KafkaConsumerGroup, KafkaMessageLog, createKafka } from './pipeline/kafka.js';
import { TOPICS, type BatchHandler, type ConsumerGroup } from './pipeline/message-log.js';
import { NOTIFY_GROUP, notifyHandler } from './pipeline/notify.js';
import { PERSIST_GROUP, persistHandler } from './pipeline/persist.js';
import { RECEIPTS_GROUP, receiptsHandler } from './pipeline/receipts.js';
import { KyselyStore } from './store/kysely.js';

export interface App {
  config: Config;
  log: Logger;
  /** Graceful stop: stop accepting, close sessions, flush producers, leave consumer groups. */
  close(): Promise<void>;
}

export async function startApp(config: Config, log: Logger): Promise<App> {
  const closers: Array<[string, () => Promise<unknown> | unknown]> = [];
  const metrics = createMetrics(config.instanceId);

  const store = new KyselyStore({ connectionString: config.databaseUrl, max: 10 });
  closers.push(['store', () => store.close()]);
  await store.ping();

  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2 });
  redis.on('error', (err) => log.warn({ err }, 'redis connection error'));
  closers.push(['redis', () => redis.quit()]);
  await redis.ping();

  const kafka = createKafka(config.kafkaBrokers, `chat-${config.instanceId}`, log);
  const messageLog = new KafkaMessageLog({ kafka, instanceId: config.instanceId, log, metrics, lingerMs: config.produceLingerMs });
  await messageLog.connect();
  closers.push(['message log', () => messageLog.close()]);

  const bus = new RedisFanoutBus(config.redisUrl, log);
  closers.push(['fan-out bus', () => bus.close()]);
  const events = new BusEventPublisher(bus);
  const presence = new RedisPresence(redis, config.presenceTtlMs);
  const positions = new RedisReadPositions(redis);
  const acks = new RedisAckPositions(redis);
  const lastBroadcastSeq = (roomId: string) => redis.get(lastSeqKey(roomId));

  // ChatService and ReadService need each other's answers; the closures break the cycle.
  let reads: ReadService;
  const chat = new ChatService({
    store,
    log: messageLog,
    idempotency: new RedisIdempotencyStore(redis),
    events,
    maxContentBytes: config.limits.maxContentBytes,
    unreadCounts: (roomId, messages) => reads.unreadCounts(roomId, messages),
    readPositions: (roomId) => reads.positions(roomId),
  });
  reads = new ReadService({
    store,
    positions,
    log: messageLog,
    events,
    requireMember: (roomId, userId) => chat.requireMember(roomId, userId),
    lastBroadcastSeq,
    latestSeq: (roomId) => messageLog.latestSeq(roomId),
  });

  // --- consumers ----------------------------------------------------------------------------
  const consumers: ConsumerGroup[] = [];
  const addConsumer = (groupId: string, topic: string, handler: BatchHandler) => {
    consumers.push(
      new KafkaConsumerGroup({
        kafka,
        groupId,
        topic,
        handler,
        log: log.child({ group: groupId }),
        metrics,
        deadLetter: messageLog,
        sessionTimeoutMs: config.kafkaSessionTimeoutMs,
      }),
    );
  };
  if (config.roles.has('persist')) addConsumer(PERSIST_GROUP, TOPICS.messages, persistHandler(store, metrics));
  if (config.roles.has('broadcast')) addConsumer(BROADCAST_GROUP, TOPICS.messages, broadcastHandler(redis, store));
  if (config.roles.has('notify')) addConsumer(
      NOTIFY_GROUP,
      TOPICS.messages,
      notifyHandler({ store, presence, events, positions: (roomId) => reads.positions(roomId) }),
    );
  if (config.roles.has('receipts')) addConsumer(RECEIPTS_GROUP, TOPICS.readReceipts, receiptsHandler(store, positions));

  // --- gateway ------------------------------------------------------------------------------
  const tokens = createTokenService(config.jwtSecret, config.jwtTtlSeconds);
  const authenticate = createAuthenticator(tokens, store);
  const hub = new Hub({
    bus,
    messagesAfter: (roomId, afterSeq, limit) => store.messagesAfter(roomId, afterSeq, limit),
    unreadFor: (roomId, messages) => reads.unreadCounts(roomId, messages),
    log,
    metrics,
  });
  // The lock only keeps instances from sweeping at the same moment: a swept user is OFFLINE and no
  // longer a candidate, so a short lock suffices whatever each instance's sweep period is.
  const tracker = new PresenceTracker(presence, store, events, log, config.presenceTtlMs, async () =>
    (await redis.set('chat:presence-sweeper', config.instanceId, 'PX', 400, 'NX')) === 'OK',
  );
  closers.push(['presence', () => tracker.close()]);
  const userBuckets = new BucketMap(config.rate.userPerSec, config.rate.userBurst);
  const createSession = (transport: Transport, urlToken: string | null = null) =>
    new Session(
      transport,
      {
        authenticate,
        chat,
        hub,
        log,
        metrics,
        instanceId: config.instanceId,
        limits: config.limits,
        heartbeatMs: config.heartbeatMs,
        frameTimeoutMs: config.frameTimeoutMs,
        lastBroadcastSeq,
        messagesAfter: (roomId, afterSeq, limit) => store.messagesAfter(roomId, afterSeq, limit),
        markRead: (user, roomId, seq) => reads.markRead(user, roomId, seq),
        typing: (user, roomId) => events.roomEvent(roomId, 'typing', { userId: user.id }),
        connBucket: () => new TokenBucket(config.rate.connPerSec, config.rate.connBurst),
        userBucket: (userId) => userBuckets.get(userId),
        acks,
        onConnected: (s) => tracker.opened(s),
        onClosed: (s) => tracker.closed(s),
      },
      urlToken,
    );

  const http = await buildHttp({
    log,
    store,
    chat,
    tokens,
    authenticate,
    metrics,
    reads,
    userBucket: (userId) => userBuckets.get(userId),
    readiness: {
      postgres: () => store.ping(),
      redis: async () => void (await redis.ping()),
      kafka: () => messageLog.ping(),
      consumers: async () => {
        const down = consumers.filter((c) => !c.healthy);
        if (down.length > 0) throw new Error(`${down.length} consumer group(s) restarting after a crash`);
      },
    },
  });
  let ws: WsGateway | null = null;
  let tcp: TcpGateway | null = null;
  if (config.roles.has('gateway')) {
    ws = attachWebSocketGateway(http.server, config.limits.maxFrameBytes, (t, token) => createSession(t, token));
  }
  await http.listen({ port: config.port, host: config.host });
  if (config.roles.has('gateway') && config.stompTcpPort > 0) {
    tcp = await startTcpGateway(config.stompTcpPort, config.host, (t) => createSession(t));
  }
  await Promise.all(consumers.map((c) => c.start()));
  log.info(
    { port: config.port, stompTcpPort: tcp ? config.stompTcpPort : null, roles: [...config.roles], instanceId: config.instanceId },
    'chat server started',
  );

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      const t0 = Date.now();
      log.info('shutting down');
      // Each step is bounded: a step that hangs (a consumer mid-rebalance) must not keep the rest from closing.
      const step = async (name: string, fn: () => Promise<unknown> | unknown, ms = 5000) => {
        try {
          await withTimeout(Promise.resolve().then(fn), ms);
        } catch (err) {
          log.warn({ err, step: name }, 'shutdown step failed');
        }
        log.debug({ step: name, elapsedMs: Date.now() - t0 }, 'shutdown step done');
      };
      // 1. Stop accepting new connections; 2. tell every session (ERROR server-unavailable, then
      // close) so clients reconnect elsewhere; SENDs already handed to the log still get flushed.
      if (tcp) tcp.server.close();
      for (const s of [...tracker.all()]) s.shutdown();
      await step('gateways', () => Promise.allSettled([ws?.close(), tcp?.close(), http.close()]));
      // 3. Leave the consumer groups (partitions move at once), then flush and close the rest.
      await step('consumers', () => Promise.allSettled(consumers.map((c) => c.close())), 8000);
      for (const [name, fn] of closers.reverse()) await step(name, fn);
      log.info({ elapsedMs: Date.now() - t0 }, 'stopped');
    })());
  return { config, log, close };
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
    redact: { paths: ['req.headers.authorization', '*.password', '*.passcode', '*.accessToken', '*.token', 'headers.authorization'], censor: '[redacted]' },
  });
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  process.on('uncaughtException', (err) => log.fatal({ err }, 'uncaught exception'));
  let app: App;
  try {
    app = await startApp(config, log);
  } catch (err) {
    log.fatal({ err }, 'start-up failed');
    process.exit(1);
  }
  let signalled = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (signalled) return;
      signalled = true;
      const force = setTimeout(() => {
        log.error('shutdown took too long; exiting');
        process.exit(1);
      }, config.shutdownGraceMs);
      force.unref();
      void app.close().then(() => process.exit(0));
    });
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) void main();
