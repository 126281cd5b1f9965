// What a STOMP session needs from the rest of the process (wired in app.ts).
import type { Logger } from 'pino';
import type { ReadService } from '../chat/reads.js';
import type { Limits, RateLimits } from '../config.js';
import type { Metrics } from '../metrics/metrics.js';
import type { User } from '../shared/model.js';
import type { SendDeps } from './sends.js';
import type { Session } from './session.js';
import type { SubscriptionDeps } from './subscription-set.js';

export interface Authenticated {
  user: User;
  /** When the token expires (ms since the epoch); the session ends then. */
  expiresAt: number | null;
}

export interface SessionDeps extends SubscriptionDeps, SendDeps {
  authenticate(token: string | null | undefined): Promise<Authenticated>;
  reads: Pick<ReadService, 'markRead' | 'views'>;
  /** Registry and presence: called once the user is known, and at teardown when it was. */
  opened(session: Session): void;
  closed(session: Session): void;
  /** The connection gate: the connection authenticated / closed (pending = it never authenticated). */
  gate: { authenticated(address: string): void; closed(address: string, pending: boolean): void };
  limits: Limits;
  rate: RateLimits;
  heartbeatMs: number;
  connectTimeoutMs: number;
  frameTimeoutMs: number;
  instanceId: string;
  log: Logger;
  metrics: Metrics;
}
