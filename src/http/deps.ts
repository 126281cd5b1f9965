// What the HTTP server and its route modules share: the dependencies (HttpDeps), the request's authenticated user
// (userOf) and the route options that declare authentication. server.ts and routes/ both import this module, so the
// server imports its routes and no route imports the server.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Accounts } from '../auth/accounts.js';
import type { Authenticator } from '../auth/authenticate.js';
import type { BlockService } from '../chat/blocks.js';
import type { SendInput } from '../chat/input.js';
import type { Membership } from '../chat/membership.js';
import type { MessageService } from '../chat/messages.js';
import type { ReadService } from '../chat/reads.js';
import type { ReplayBudget } from '../chat/replay-budget.js';
import type { RoomService } from '../chat/rooms.js';
import type { Metrics } from '../metrics/metrics.js';
import type { OpsConsole } from '../ops/console.js';
import { appError } from '../shared/errors.js';
import type { User } from '../shared/model.js';
import type { Store } from '../store/store.js';
import type { ZodType } from 'zod';

export interface HttpDeps {
  log: Logger;
  store: Pick<Store, 'searchUsers' | 'listNotifications'>;
  accounts: Accounts;
  authenticate: Authenticator;
  rooms: RoomService;
  blocks: BlockService;
  messages: MessageService;
  reads: Pick<ReadService, 'markRead'>;
  membership: Membership;
  metrics: Metrics;
  /** Stored messages a user may read back per minute (history pages), shared with STOMP replays (cluster-wide). */
  replayBudget: Pick<ReplayBudget, 'admit' | 'charge'>;
  /** Per-user send budget shared with STOMP (cluster-wide): false when over it. */
  userSends: { tryTake(userId: string): boolean };
  restSendsInFlight: number;
  /** Each dependency's health check, for /readyz. */
  readiness: Record<string, () => Promise<void>>;
  /** When set, /metrics requires `Authorization: Bearer <metricsToken>`. */
  metricsToken: string | null;
  /** Whether this port serves /metrics (outside production, or with a token; else only METRICS_PORT does). */
  metricsOnPublicPort: boolean;
  timeouts: { requestMs: number; keepAliveMs: number };
  /** Sockets per remote address that are not (yet) a WebSocket; beyond it new sockets are closed at once. */
  maxSocketsPerIp: number;
  sendSchema: ZodType<SendInput>;
  bodyLimit?: number;
  /** The operations console (routes under /api/ops/, `admin` in /api/users/me). */
  ops: Pick<OpsConsole, 'isAdmin' | 'actorOf' | 'monitor' | 'deadLetters' | 'webhookDeliveries'>;
  /** Extra plugins (metrics and access log) registered before the routes. */
  plugins?: Array<(app: FastifyInstance) => Promise<void> | void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    user?: User;
  }
  interface FastifyContextConfig {
    /** Requires `Authorization: Bearer <jwt>`; sets request.user. */
    auth?: boolean;
    /** With auth: only administrators (ADMIN_EMAILS); anyone else gets 403 `forbidden`. */
    admin?: boolean;
  }
}

/** The authenticated user of a route declared with `config: { auth: true }`. */
export function userOf(req: FastifyRequest): User {
  if (!req.user) throw appError('unauthorized', 'missing bearer token');
  return req.user;
}
