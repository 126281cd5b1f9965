// The webhook outbox port: durable delivery state in the store (both KyselyStore adapters: PostgreSQL, PGlite).
// Rows are written by the notify consumer (Store.insertNotifications with a webhook scope); everything else here
// is the delivery worker's and the operator's. Every method is scoped: deployments sharing a database never see
// each other's deliveries.
import type { MessageView } from '../shared/model.js';

/** A delivery a worker holds until its lease ends: settle it with the lease token before then. */
export interface ClaimedDelivery {
  /** The delivery id (x-chat-delivery and the body's `id`): the same on every attempt. */
  id: string;
  leaseToken: string;
  userId: string;
  roomId: string;
  /** Attempts including this one. */
  attempts: number;
  /** Whether the user is a member of the room now (a member who left gets nothing more). */
  member: boolean;
  /** The outbox rows' messages as stored, oldest first; unreadCount as of now. */
  messages: MessageView[];
  /** Outbox rows whose message is not stored yet (the persist group is behind). */
  unstored: number;
}

export interface FailedDelivery {
  id: string;
  userId: string;
  roomId: string;
  /** Messages the delivery carries. */
  count: number;
  attempts: number;
  createdAt: string;
  failedAt: string;
  /** The receiver's last HTTP status, or null (timeout, connection refused, ...). */
  lastStatus: number | null;
  lastError: string | null;
}

/** How an attempt that did not succeed ends. */
export interface DeliveryFailure {
  /** Retry after this many ms, unless that is past the give-up time; null: failed now (a permanent refusal). */
  retryInMs: number | null;
  /** Give up once this many ms have passed since the delivery started (formed, or retried by an operator). */
  giveUpMs: number;
  status: number | null;
  error: string;
}

export interface WebhookOutbox {
  /**
   * Groups the outbox rows of each (user, room) whose oldest waiting row is at least `windowMs` old into
   * deliveries of at most `maxMessages` (by seq). Safe with several workers at once: a row joins one delivery only.
   * Looks at `maxGroups` (user, room) pairs per call. Returns the number of deliveries formed.
   */
  formWebhookDeliveries(scope: string, windowMs: number, maxMessages: number, maxGroups: number): Promise<number>;
  /**
   * Takes up to `limit` due pending deliveries (skipping those another worker holds) and leases them for `leaseMs`:
   * a delivery not settled by then is due again (its holder died). Each claim counts as an attempt. One round trip.
   */
  claimWebhookDeliveries(scope: string, limit: number, leaseMs: number): Promise<ClaimedDelivery[]>;
  /**
   * Settles deliveries as delivered (2xx) or dropped (the member left), in one statement; returns the ids settled
   * (not those whose lease was lost meanwhile). Settled deliveries keep their outbox rows (a redelivered record
   * queues nothing) until pruned.
   */
  completeWebhookDeliveries(settled: ReadonlyArray<{ id: string; leaseToken: string; outcome: 'delivered' | 'dropped' }>): Promise<string[]>;
  /** Deletes up to `limit` deliveries settled (delivered, dropped, discarded) more than `olderThanMs` ago, with their rows. */
  pruneWebhookDeliveries(scope: string, olderThanMs: number, limit: number): Promise<number>;
  /** Records a failed attempt: pending again after the delay, or failed; null when the lease was lost. */
  failWebhookDelivery(id: string, leaseToken: string, failure: DeliveryFailure): Promise<'pending' | 'failed' | null>;
  /** Failed deliveries, most recently failed first; `before` is the cursor of the previous page. */
  listFailedWebhookDeliveries(
    scope: string,
    page: { limit: number; before?: string | null },
  ): Promise<{ deliveries: FailedDelivery[]; nextCursor: string | null }>;
  countFailedWebhookDeliveries(scope: string): Promise<number>;
  /** Failed deliveries back to pending, due now, their give-up clock and attempts restarted. Returns the ids moved. */
  retryWebhookDeliveries(scope: string, ids: readonly string[]): Promise<string[]>;
  /** Settles failed deliveries as discarded (never sent). Returns the ids discarded. */
  discardWebhookDeliveries(scope: string, ids: readonly string[]): Promise<string[]>;
}
