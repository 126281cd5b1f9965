// The application on top of the ports: services, consumer groups (per ROLES), the hub, the gateways and HTTP.
// main.ts chooses the infrastructure (cluster or embedded) and hands it in; everything here is mode-agnostic.
import type { Logger } from 'pino';
import { Accounts } from './auth/accounts.js';
import { createAuthenticator } from './auth/authenticate.js';
import { HashPool } from './auth/hash-pool.js';
import { Passwords } from './auth/password.js';
import { createTokenService } from './auth/tokens.js';
import { BlockService } from './chat/blocks.js';
import { catchUp } from './chat/catch-up.js';
import { Events } from './chat/events.js';
import { sendSchema } from './chat/input.js';
import { Membership } from './chat/membership.js';
import { MembersCache } from './chat/members-cache.js';
import { MessageService } from './chat/messages.js';
import { ReadService } from './chat/reads.js';
import { ReplayBudget } from './chat/replay-budget.js';
import { RoomService } from './chat/rooms.js';
import { DEV_JWT_SECRET, type Config } from './config.js';
import { Hub } from './fanout/hub.js';
import { ConnectionGate } from './gateway/gate.js';
import { UserSendLimiter } from './gateway/rate-limit.js';
import { SessionRegistry } from './gateway/registry.js';
import { Semaphore } from './gateway/semaphore.js';
import type { SessionDeps } from './gateway/session-deps.js';
import { Session } from './gateway/session.js';
import { LISTEN_BACKLOG, startTcpGateway, type TcpGateway } from './gateway/tcp.js';
import type { Transport } from './gateway/transport.js';
import { attachWebSocketGateway, type WsGateway } from './gateway/ws.js';
import { startMetricsServer, type MetricsServer } from './http/metrics-server.js';
import { buildHttp } from './http/server.js';
import type { Infra } from './infra/infra.js';
import { withHttpObservability } from './metrics/http.js';
import { createWebhook, webhookScope } from './notifications/webhook.js';
import type { Metrics } from './metrics/metrics.js';
import { startOpsConsole, type OpsConsole } from './ops/console.js';
import { BROADCAST_GROUP, broadcastHandler } from './consumers/broadcast.js';
import type { ConsumerGroup } from './log/message-log.js';
import { TOPICS } from './log/message-log.js';
import { NOTIFY_GROUP, notifyHandler } from './consumers/notify.js';
import { PERSIST_GROUP, persistHandler } from './consumers/persist.js';
import { RECEIPTS_GROUP, receiptsHandler } from './consumers/receipts.js';
import { withTimeout } from './shared/timeout.js';

export interface App {
  config: Config;
  /** The bound ports (0 in the config means "any": tests read the real ones here). */
  port: number;
  stompTcpPort: number | null;
  /** The metrics-only port, when one is open (METRICS_PORT). */
  metricsPort: number | null;
  /** Graceful stop: stop accepting, close sessions, flush producers, leave consumer groups, close adapters. */
  close(): Promise<void>;
}

type Cleanups = Array<() => unknown>;

/** The use cases over the ports. */
function buildServices(config: Config, infra: Infra, metrics: Metrics, cleanups: Cleanups) {
  const { store, messageLog, bus } = infra;
  const events = new Events(bus, (what) => metrics.failuresDropped.inc({ what }));
  const membership = new Membership(store, infra.membershipLeases);
  const lastBroadcastSeq = (roomId: string) => bus.lastBroadcastSeq(roomId);
  const reads = new ReadService({ store, positions: infra.positions, log: messageLog, events, membership, lastBroadcastSeq });
  const messages = new MessageService({ store, log: messageLog, idempotency: infra.idempotency, membership, reads, dropped: events.dropped });
  const rooms = new RoomService({ store, bus, events, membership, reads, roomsPerUserPerHour: config.accounts.roomsPerUserPerHour });
  const blocks = new BlockService({ store, rooms });
  const tokens = createTokenService(config.jwtSecret ?? infra.jwtSecret ?? DEV_JWT_SECRET, config.jwtTtlSeconds);
  const authenticate = createAuthenticator(tokens, store);
  const hashPool = new HashPool(2);
  const accounts = new Accounts({ store, passwords: new Passwords(hashPool), tokens, rates: infra.rates, limits: config.accounts });
  const userSends = new UserSendLimiter(infra.rates, config.rate.userPerSec, config.rate.userBurst);
  const replayBudget = new ReplayBudget(infra.rates, config.limits.replayMessagesPerMin);
  const members = new MembersCache(store);
  cleanups.push(
    () => hashPool.close(),
    () => userSends.close(),
  );
  return {
    events,
    membership,
    members,
    reads,
    messages,
    rooms,
    blocks,
    authenticate,
    accounts,
    userSends,
    replayBudget,
    lastBroadcastSeq,
    sendSchema: sendSchema(config.limits.maxContentBytes),
  };
}

type Services = ReturnType<typeof buildServices>;

/** The consumer groups this process runs (ROLES), each named with KAFKA_GROUP_PREFIX. */
function buildConsumers(config: Config, infra: Infra, s: Services, metrics: Metrics): ConsumerGroup[] {
  const { store, bus } = infra;
  const group = (name: string) => config.kafkaGroupPrefix + name;
  const consumers: ConsumerGroup[] = [];
  type Options = Parameters<Infra['consumers']['create']>[0];
  const add = (role: string, groupId: string, topic: string, handler: Options['handler'], batching: Options['batching'] = 'throughput') => {
    if (config.roles.has(role as never)) consumers.push(infra.consumers.create({ groupId: group(groupId), topic, handler, batching }));
  };
  add('persist', PERSIST_GROUP, TOPICS.messages, persistHandler(store, metrics));
  // Only the broadcast group is on the live path (SEND -> MESSAGE).
  add('broadcast', BROADCAST_GROUP, TOPICS.messages, broadcastHandler(bus, store, s.members), 'latency');
  add(
    'notify',
    NOTIFY_GROUP,
    TOPICS.messages,
    notifyHandler({
      store,
      members: s.members,
      presence: infra.presence,
      events: s.events,
      cachedPositions: (roomId) => infra.positions.get(roomId),
      positions: (roomId) => s.reads.positions(roomId),
      webhookScope: webhookScope(config),
    }),
  );
  add('receipts', RECEIPTS_GROUP, TOPICS.readReceipts, receiptsHandler(store, infra.positions));
  metrics.setConsumerGroupReadiness(() => consumers.map((c) => ({ group: c.groupId, ready: c.healthy })));
  return consumers;
}

/** The hub, the session registry (presence), the connection gate, and what every STOMP session is given. */
function buildGateway(config: Config, log: Logger, infra: Infra, s: Services, metrics: Metrics, ops: OpsConsole, cleanups: Cleanups) {
  const { store, bus } = infra;
  const catchUpDeps = { messagesAfter: (roomId: string, after: string, limit: number) => store.messagesAfter(roomId, after, limit) };
  const hub = new Hub({
    bus,
    repair: (roomId, after, upTo, deliver) =>
      catchUp(catchUpDeps, { roomId, after, target: () => upTo, deliver, active: () => true, deadline: Date.now() + 5000 }),
    views: (roomId, list) => s.reads.views(roomId, list),
    areMembers: (pairs) => store.areMembers(pairs),
    onRevoked: (roomId, userId, found) => {
      s.membership.forget(roomId, userId);
      // The leave itself told the user once; a revocation the re-check found was not announced yet.
      if (found === 'recheck') void s.events.userQuietly(userId, 'room-removed', { roomId, reason: 'left' });
    },
    log,
    metrics,
  });
  const gate = new ConnectionGate(config.limits);
  const registry = new SessionRegistry({
    presence: infra.presence,
    store,
    bus,
    leases: infra.leases,
    instanceId: config.instanceId,
    log,
    ttlMs: config.presenceTtlMs,
    replaysPerUser: config.limits.maxReplaysPerUser,
  });
  cleanups.push(
    () => registry.close(),
    () => hub.close(),
  );
  const sessionDeps: SessionDeps = {
    ...s,
    hub,
    ops,
    catchUp: catchUpDeps,
    acks: infra.acks,
    userReplaySlots: (userId) => registry.userReplaySlots(userId),
    newReplaySlots: () => new Semaphore(config.limits.maxReplaysPerConnection),
    opened: (session) => registry.opened(session),
    closed: (session) => registry.closed(session),
    gate,
    limits: config.limits,
    rate: config.rate,
    heartbeatMs: config.heartbeatMs,
    connectTimeoutMs: config.connectTimeoutMs,
    frameTimeoutMs: config.frameTimeoutMs,
    instanceId: config.instanceId,
    log,
    metrics,
  };
  return { hub, gate, registry, sessionDeps };
}

export async function startApp(config: Config, log: Logger, infra: Infra, metrics: Metrics): Promise<App> {
  const cleanups: Cleanups = [];
  const webhook = createWebhook(config, infra.store, metrics, log);
  // webhookDeliveries: failed webhook deliveries for the operations console (list, retry, discard).
  const services = { ...buildServices(config, infra, metrics, cleanups), webhookDeliveries: webhook.deliveries };
  const consumers = buildConsumers(config, infra, services, metrics);
  let sessions = () => 0;
  const groups = () => consumers.map((c) => ({ group: c.groupId, ready: c.healthy }));
  const ops = await startOpsConsole({ config, log, infra, metrics, sessions: () => sessions(), groups, webhookDeliveries: webhook.deliveries });
  cleanups.push(() => ops.close());
  const { hub, gate, registry, sessionDeps } = buildGateway(config, log, infra, services, metrics, ops, cleanups);
  sessions = () => registry.size;
  const openSession = (transport: Transport, urlToken: string | null = null) => new Session(transport, sessionDeps, urlToken);
  const admit = (address: string) => gate.admit(address);

  const http = await buildHttp({
    ...services,
    log,
    store: infra.store,
    metrics,
    restSendsInFlight: config.rate.restSendsInFlight,
    metricsToken: config.metricsToken,
    ops,
    metricsOnPublicPort: config.metricsOnPublicPort,
    plugins: [withHttpObservability({ metrics, log: log.child({ component: 'http' }) })],
    timeouts: { requestMs: config.httpRequestTimeoutMs, keepAliveMs: config.httpKeepAliveTimeoutMs },
    maxSocketsPerIp: config.limits.maxPendingPerIp,
    readiness: {
      ...infra.readiness,
      consumers: async () => {
        const down = consumers.filter((c) => !c.healthy);
        if (down.length > 0) throw new Error(`${down.map((c) => c.groupId).join(', ')} restarting after a crash`);
      },
    },
  });
  let ws: WsGateway | null = null;
  let tcp: TcpGateway | null = null;
  // Membership and presence changes of every instance: the hub acts on them, the consumers' caches forget.
  await infra.bus.listenControl({
    membership: (c) => {
      services.members.invalidate(c.roomId);
      if (c.change === 'left') services.membership.forget(c.roomId, c.userId);
      hub.onMembership(c);
    },
    presence: (c) => hub.onPresence(c),
  });
  if (config.roles.has('gateway')) {
    hub.start();
    ws = attachWebSocketGateway(http.server, config.limits.maxFrameBytes, openSession, admit);
  }
  await http.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG });
  if (config.roles.has('gateway') && config.stompTcpPort > 0) tcp = await listenTcp(config, log, openSession, admit);
  const metricsServer = await listenMetrics(config, metrics);
  await Promise.all(consumers.map((c) => c.start()));
  webhook.worker?.start();
  const port = (http.server.address() as { port: number }).port;
  const stompTcpPort = tcp ? (tcp.server.address() as { port: number }).port : null;
  log.info(
    { port, stompTcpPort, metricsPort: metricsServer?.port ?? null, roles: [...config.roles], instanceId: config.instanceId, mode: config.mode },
    'chat server started',
  );

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= closeApp(log, async (step) => {
      // 1. Stop accepting; 2. tell every session (ERROR server-unavailable, then close) so clients reconnect
      // elsewhere; SENDs already handed to the log still get flushed (the log closes last).
      if (tcp) tcp.server.close();
      for (const s of registry.all()) s.shutdown();
      await step('gateways', () => Promise.allSettled([ws?.close(), tcp?.close(), http.close(), metricsServer?.close()]));
      // 3. Leave the consumer groups (partitions move at once), then the rest, then the adapters.
      await step('consumers', () => Promise.allSettled(consumers.map((c) => c.close())), 8000);
      await step('webhook worker', () => webhook.worker?.close());
      for (const fn of cleanups.reverse()) await step('cleanup', fn);
      await step('infrastructure', () => infra.close(), 20_000);
    }));
  return { config, port, stompTcpPort, metricsPort: metricsServer?.port ?? null, close };
}

/** /metrics on its own port (METRICS_PORT: by default in production), bound to METRICS_HOST. */
function listenMetrics(config: Config, metrics: Metrics): Promise<MetricsServer | null> {
  if (config.metricsPort <= 0) return Promise.resolve(null);
  return startMetricsServer({
    port: config.metricsPort,
    host: config.metricsHost,
    registry: metrics.registry,
    token: config.metricsToken,
    requestTimeoutMs: config.httpRequestTimeoutMs,
    keepAliveTimeoutMs: config.httpKeepAliveTimeoutMs,
  });
}

/** STOMP over TCP; a taken default port (often another STOMP broker's) turns it off rather than stopping start-up. */
async function listenTcp(config: Config, log: Logger, openSession: (t: Transport) => Session, admit: (address: string) => boolean): Promise<TcpGateway | null> {
  try {
    return await startTcpGateway(config.stompTcpPort, config.host, (t) => openSession(t), admit);
  } catch (err) {
    // A port the operator chose must work.
    if ((err as { code?: string }).code !== 'EADDRINUSE' || config.stompTcpPortExplicit) throw err;
    log.warn({ port: config.stompTcpPort }, 'STOMP TCP port in use (another STOMP broker?): STOMP over TCP is off; set STOMP_TCP_PORT to choose another');
    return null;
  }
}

/** Runs the shutdown steps, each bounded: a step that hangs (a consumer mid-rebalance) must not keep the rest open. */
async function closeApp(log: Logger, steps: (step: (name: string, fn: () => unknown, ms?: number) => Promise<void>) => Promise<void>): Promise<void> {
  const t0 = Date.now();
  log.info('shutting down');
  await steps(async (name, fn, ms = 5000) => {
    try {
      await withTimeout(Promise.resolve().then(fn), ms);
    } catch (err) {
      log.warn({ err, step: name }, 'shutdown step failed');
    }
    log.debug({ step: name, elapsedMs: Date.now() - t0 }, 'shutdown step done');
  });
  log.info({ elapsedMs: Date.now() - t0 }, 'stopped');
}
