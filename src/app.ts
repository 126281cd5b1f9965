// The application on top of the ports: services, consumer groups (per ROLES), the hub, the gateways and HTTP.
// main.ts chooses the infrastructure (cluster or embedded) and hands it in; everything here is mode-agnostic.
import type { Logger } from 'pino';
import { Accounts } from './auth/accounts.js';
import { createAuthenticator } from './auth/authenticate.js';
import { HashPool } from './auth/hash-pool.js';
import { Passwords } from './auth/password.js';
import { createTokenService } from './auth/tokens.js';
import { Events } from './chat/events.js';
import { sendSchema } from './chat/input.js';
import { Membership } from './chat/membership.js';
import { MessageService } from './chat/messages.js';
import { ReadService } from './chat/reads.js';
import { RoomService } from './chat/rooms.js';
import { catchUp } from './chat/catch-up.js';
import { DEV_JWT_SECRET, type Config } from './config.js';
import { Hub } from './fanout/hub.js';
import { ConnectionGate } from './gateway/gate.js';
import { UserSendLimiter } from './gateway/rate-limit.js';
import { SessionRegistry } from './gateway/registry.js';
import { Semaphore } from './gateway/semaphore.js';
import { Session } from './gateway/session.js';
import { startTcpGateway, type TcpGateway } from './gateway/tcp.js';
import type { Transport } from './gateway/transport.js';
import { attachWebSocketGateway, type WsGateway } from './gateway/ws.js';
import { buildHttp } from './http/server.js';
import type { Infra } from './infra/infra.js';
import { withHttpObservability } from './metrics/http.js';
import type { Metrics } from './metrics/metrics.js';
import { BROADCAST_GROUP, broadcastHandler } from './pipeline/broadcast.js';
import type { ConsumerGroup } from './pipeline/message-log.js';
import { TOPICS } from './pipeline/message-log.js';
import { NOTIFY_GROUP, notifyHandler } from './pipeline/notify.js';
import { PERSIST_GROUP, persistHandler } from './pipeline/persist.js';
import { RECEIPTS_GROUP, receiptsHandler } from './pipeline/receipts.js';
import { withTimeout } from './shared/timeout.js';

export interface App {
  config: Config;
  /** The bound ports (0 in the config means "any": tests read the real ones here). */
  port: number;
  stompTcpPort: number | null;
  /** Graceful stop: stop accepting, close sessions, flush producers, leave consumer groups, close adapters. */
  close(): Promise<void>;
}

export async function startApp(config: Config, log: Logger, infra: Infra, metrics: Metrics): Promise<App> {
  const { store, messageLog, bus } = infra;
  const cleanups: Array<() => unknown> = [];

  // --- services -------------------------------------------------------------------------------------
  const events = new Events(bus);
  const membership = new Membership(store);
  const reads = new ReadService({
    store,
    positions: infra.positions,
    log: messageLog,
    events,
    membership,
    lastBroadcastSeq: (roomId) => bus.lastBroadcastSeq(roomId),
  });
  const messages = new MessageService({ store, log: messageLog, idempotency: infra.idempotency, membership, reads });
  const rooms = new RoomService({ store, bus, events, membership, reads, roomsPerUserPerHour: config.accounts.roomsPerUserPerHour });
  const secret = config.jwtSecret ?? infra.jwtSecret ?? DEV_JWT_SECRET;
  const tokens = createTokenService(secret, config.jwtTtlSeconds);
  const authenticate = createAuthenticator(tokens, store);
  const hashPool = new HashPool(2);
  cleanups.push(() => hashPool.close());
  const accounts = new Accounts({ store, passwords: new Passwords(hashPool), tokens, rates: infra.rates, limits: config.accounts });
  const userSends = new UserSendLimiter(infra.rates, config.rate.userPerSec, config.rate.userBurst);
  cleanups.push(() => userSends.close());
  const send = sendSchema(config.limits.maxContentBytes);

  // --- consumer groups --------------------------------------------------------------------------------
  const consumers: ConsumerGroup[] = [];
  const roles = config.roles;
  const group = (name: string) => config.kafkaGroupPrefix + name;
  if (roles.has('persist')) consumers.push(infra.consumers.create({ groupId: group(PERSIST_GROUP), topic: TOPICS.messages, handler: persistHandler(store, metrics) }));
  if (roles.has('broadcast')) consumers.push(infra.consumers.create({ groupId: group(BROADCAST_GROUP), topic: TOPICS.messages, handler: broadcastHandler(bus, store) }));
  if (roles.has('notify')) {
    consumers.push(
      infra.consumers.create({
        groupId: group(NOTIFY_GROUP),
        topic: TOPICS.messages,
        handler: notifyHandler({
          store,
          presence: infra.presence,
          events,
          cachedPositions: (roomId) => infra.positions.get(roomId),
          positions: (roomId) => reads.positions(roomId),
        }),
      }),
    );
  }
  metrics.setConsumerGroupReadiness(() => consumers.map((c) => ({ group: c.groupId, ready: c.healthy })));
  if (roles.has('receipts')) consumers.push(infra.consumers.create({ groupId: group(RECEIPTS_GROUP), topic: TOPICS.readReceipts, handler: receiptsHandler(store, infra.positions) }));

  // --- gateway --------------------------------------------------------------------------------------
  const catchUpDeps = { messagesAfter: (roomId: string, after: string, limit: number) => store.messagesAfter(roomId, after, limit) };
  const hub = new Hub({
    bus,
    repair: (roomId, after, upTo, deliver) => catchUp(catchUpDeps, { roomId, after, target: () => upTo, deliver, active: () => true, deadline: Date.now() + 5000 }),
    views: (roomId, list) => reads.views(roomId, list),
    areMembers: (pairs) => store.areMembers(pairs),
    onRevoked: (roomId, userId) => {
      membership.forget(roomId, userId);
      void events.userQuietly(userId, 'room-removed', { roomId, reason: 'left' });
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
  cleanups.push(() => registry.close(), () => hub.close());
  const sessionDeps = {
    authenticate,
    messages,
    membership,
    reads,
    events,
    hub,
    catchUp: catchUpDeps,
    lastBroadcastSeq: (roomId: string) => bus.lastBroadcastSeq(roomId),
    acks: infra.acks,
    sendSchema: send,
    userSends,
    userReplaySlots: (userId: string) => registry.userReplaySlots(userId),
    newReplaySlots: () => new Semaphore(config.limits.maxReplaysPerConnection),
    opened: (s: Session) => registry.opened(s),
    closed: (s: Session) => registry.closed(s),
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
  const openSession = (transport: Transport, urlToken: string | null = null) => new Session(transport, sessionDeps, urlToken);
  const admit = (address: string) => gate.admit(address);

  const http = await buildHttp({
    log,
    store,
    accounts,
    authenticate,
    rooms,
    messages,
    reads,
    membership,
    metrics,
    userSends,
    restSendsInFlight: config.rate.restSendsInFlight,
    sendSchema: send,
    metricsToken: config.metricsToken,
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
  if (roles.has('gateway')) {
    await hub.start();
    ws = attachWebSocketGateway(http.server, config.limits.maxFrameBytes, openSession, admit);
  }
  await http.listen({ port: config.port, host: config.host });
  if (roles.has('gateway') && config.stompTcpPort > 0) {
    try {
      tcp = await startTcpGateway(config.stompTcpPort, config.host, (t) => openSession(t), admit);
    } catch (err) {
      // The default port is often taken by another STOMP broker (RabbitMQ's plugin): run without TCP STOMP rather
      // than not at all. A port the operator chose must work.
      if ((err as { code?: string }).code !== 'EADDRINUSE' || config.stompTcpPortExplicit) throw err;
      log.warn({ port: config.stompTcpPort }, 'STOMP TCP port in use (another STOMP broker?): STOMP over TCP is off; set STOMP_TCP_PORT to choose another');
    }
  }
  await Promise.all(consumers.map((c) => c.start()));
  const port = (http.server.address() as { port: number }).port;
  const stompTcpPort = tcp ? (tcp.server.address() as { port: number }).port : null;
  log.info({ port, stompTcpPort, roles: [...roles], instanceId: config.instanceId, mode: config.mode }, 'chat server started');

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
      // 1. Stop accepting; 2. tell every session (ERROR server-unavailable, then close) so clients reconnect
      // elsewhere; SENDs already handed to the log still get flushed (the log closes last).
      if (tcp) tcp.server.close();
      for (const s of registry.all()) s.shutdown();
      await step('gateways', () => Promise.allSettled([ws?.close(), tcp?.close(), http.close()]));
      // 3. Leave the consumer groups (partitions move at once), then the rest, then the adapters.
      await step('consumers', () => Promise.allSettled(consumers.map((c) => c.close())), 8000);
      for (const fn of cleanups.reverse()) await step('cleanup', fn);
      await step('infrastructure', () => infra.close(), 20_000);
      log.info({ elapsedMs: Date.now() - t0 }, 'stopped');
    })());
  return { config, port, stompTcpPort, close };
}
