// The webhook delivery worker: runs in every process with the `notify` role when NOTIFY_WEBHOOK_URL is set. It
// forms deliveries from the outbox (one per member, room and window), claims due ones under a lease, POSTs each
// (at most `concurrency` at once per process) and settles it: deleted after a 2xx, retried with backoff, or given
// up and kept as a failed delivery. All of its state is in the store, so a restart or a crash loses nothing: a
// killed worker's claimed deliveries come due again when their lease ends, and go out again under the same id.
// It never holds up the chat: the notify consumer only writes outbox rows, and nothing waits for a POST.
import type { Logger } from 'pino';
import type { WebhookConfig } from '../config.js';
import type { WebhookMetrics } from '../metrics/webhook.js';
import { postWebhook, type Post } from './http-post.js';
import type { ClaimedDelivery, WebhookOutbox } from './outbox.js';
import { backoffDelay, classify, type AttemptResult } from './policy.js';
import { deliveryBody, deliveryRequest } from './signature.js';

/** (user, room) pairs looked at per formation pass. */
const MAX_GROUPS_PER_PASS = 500;
/**
 * Settled deliveries are kept this long: a Kafka record redelivered within it (a consumer crash before its commit)
 * queues no second webhook. Pruned a batch at a time, once a minute.
 */
export const SETTLED_RETENTION_MS = 7 * 24 * 3600_000;
const PRUNE_EVERY_MS = 60_000;

export interface WebhookWorkerDeps {
  outbox: Pick<
    WebhookOutbox,
    'formWebhookDeliveries' | 'claimWebhookDeliveries' | 'completeWebhookDeliveries' | 'failWebhookDelivery' | 'pruneWebhookDeliveries'
  >;
  settings: WebhookConfig;
  /** Deployment scope of the outbox rows (KAFKA_GROUP_PREFIX). */
  scope: string;
  metrics: WebhookMetrics;
  log: Logger;
  post?: Post;
  random?: () => number;
}

export class WebhookWorker {
  /** How often the outbox is looked at (and deliveries formed): half the window, within 50 ms .. 1 s. */
  readonly pollMs: number;
  /** A claimed delivery is due again after this (its worker died): the request timeout plus a margin. */
  readonly leaseMs: number;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly post: Post;
  private timer: NodeJS.Timeout | null = null;
  /** Delivered or dropped, to be settled in the store with the next pass (one statement for all). */
  private settled: Array<{ id: string; leaseToken: string; outcome: 'delivered' | 'dropped'; messages: number }> = [];
  private pass: Promise<void> | null = null;
  private lastFormed = 0;
  private lastPruned = 0;
  /** The last claim filled every free slot: more may be due, so claim again as soon as a slot frees. */
  private more = false;
  private closed = false;

  constructor(private readonly deps: WebhookWorkerDeps) {
    const s = deps.settings;
    this.pollMs = Math.min(1000, Math.max(50, Math.floor(s.windowMs / 2)));
    this.leaseMs = s.timeoutMs + Math.max(2000, s.timeoutMs);
    this.post = deps.post ?? postWebhook;
  }

  start(): void {
    this.schedule(0);
  }

  /** POSTs in flight now (never more than the concurrency setting). */
  get active(): number {
    return this.inFlight.size;
  }

  /** Stops claiming, aborts the POSTs in flight (their deliveries are due again at once) and waits for them. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort();
    await this.pass;
    await Promise.allSettled([...this.inFlight]);
    await this.settle().catch((err: unknown) => this.deps.log.warn({ err }, 'webhook deliveries not settled at shutdown (sent again later)'));
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), ms);
    this.timer.unref();
  }

  private run(): void {
    this.timer = null;
    if (this.closed || this.pass) return;
    this.pass = this.claimAndSend()
      .catch((err: unknown) => this.deps.log.warn({ err }, 'webhook worker pass failed (retried next pass)'))
      .finally(() => {
        this.pass = null;
        this.schedule(this.more && this.inFlight.size < this.deps.settings.concurrency ? 0 : this.pollMs);
      });
  }

  /** Settles what was delivered or dropped since the last pass, in one statement. */
  private async settle(): Promise<void> {
    if (this.settled.length === 0) return;
    const batch = this.settled;
    this.settled = [];
    const done = new Set(await this.deps.outbox.completeWebhookDeliveries(batch));
    for (const x of batch) {
      if (!done.has(x.id)) {
        // Another worker took it over after our lease ended: it goes out again under the same id.
        this.deps.log.warn({ deliveryId: x.id }, 'webhook delivery settled after its lease ended');
        continue;
      }
      this.deps.metrics.deliveries.inc({ outcome: x.outcome });
      if (x.outcome === 'delivered') this.deps.metrics.messagesDelivered.inc(x.messages);
    }
  }

  private async claimAndSend(): Promise<void> {
    const { outbox, settings: s, scope } = this.deps;
    await this.settle();
    if (Date.now() - this.lastFormed >= this.pollMs) {
      this.lastFormed = Date.now();
      await outbox.formWebhookDeliveries(scope, s.windowMs, s.maxMessages, MAX_GROUPS_PER_PASS);
    }
    if (Date.now() - this.lastPruned >= PRUNE_EVERY_MS) {
      this.lastPruned = Date.now();
      await outbox.pruneWebhookDeliveries(scope, SETTLED_RETENTION_MS, 1000);
    }
    const free = s.concurrency - this.inFlight.size;
    this.more = false;
    if (free <= 0 || this.closed) return;
    const claimed = await outbox.claimWebhookDeliveries(scope, free, this.leaseMs);
    this.more = claimed.length === free;
    if (claimed.length === 0) return;
    for (const d of claimed) {
      const p = this.deliver(d)
        .catch((err: unknown) => this.deps.log.warn({ err, deliveryId: d.id }, 'webhook delivery not settled (due again when its lease ends)'))
        .finally(() => {
          this.inFlight.delete(p);
          // Claim again once half the slots are free (not one claim per finished POST), or settle soon.
          this.schedule(this.more && this.inFlight.size <= s.concurrency / 2 ? 0 : Math.min(this.pollMs, 100));
        });
      this.inFlight.add(p);
    }
  }

  private async deliver(d: ClaimedDelivery): Promise<void> {
    const { outbox, settings: s, metrics } = this.deps;
    if (!d.member || (d.messages.length === 0 && d.unstored === 0)) {
      this.settled.push({ id: d.id, leaseToken: d.leaseToken, outcome: 'dropped', messages: 0 });
      return;
    }
    if (d.unstored > 0) {
      this.deps.log.debug({ deliveryId: d.id, attempt: d.attempts, unstored: d.unstored }, 'webhook delivery waits for its messages to be stored');
      // The persist group is behind: wait for the messages to be stored (the give-up clock runs meanwhile).
      await this.settleFailure(d, { status: null, error: null, retryAfterMs: null }, 'retry', `${d.unstored} message(s) not stored yet`);
      return;
    }
    const request = deliveryRequest(deliveryBody(d), s.secret, Date.now());
    const t0 = performance.now();
    const result = await this.post(s.url, request, s.timeoutMs, this.abort.signal);
    if (result.error === 'aborted') {
      // Shutting down: due again at once, for whichever worker is next.
      await outbox.failWebhookDelivery(d.id, d.leaseToken, { retryInMs: 0, giveUpMs: s.giveUpMs, status: null, error: 'worker stopped' });
      return;
    }
    metrics.requestDuration.observe((performance.now() - t0) / 1000);
    const verdict = classify(result);
    this.deps.log.debug({ deliveryId: d.id, attempt: d.attempts, messages: d.messages.length, status: result.status, error: result.error }, 'webhook attempt');
    metrics.requests.inc({ outcome: verdict.outcome });
    if (verdict.action === 'delivered') {
      this.settled.push({ id: d.id, leaseToken: d.leaseToken, outcome: 'delivered', messages: d.messages.length });
      return;
    }
    const detail = result.status !== null ? `HTTP ${result.status}` : (result.detail ?? result.error ?? 'failed');
    await this.settleFailure(d, result, verdict.action, detail);
  }

  private async settleFailure(d: ClaimedDelivery, result: AttemptResult, action: 'retry' | 'fail', error: string): Promise<void> {
    const { settings: s } = this.deps;
    const retryInMs =
      action === 'retry' ? backoffDelay(d.attempts, { baseMs: s.backoffMs, maxMs: s.backoffMaxMs }, this.deps.random, result.retryAfterMs) : null;
    const state = await this.deps.outbox.failWebhookDelivery(d.id, d.leaseToken, { retryInMs, giveUpMs: s.giveUpMs, status: result.status, error });
    if (state === 'failed') {
      this.deps.metrics.deliveries.inc({ outcome: 'failed' });
      this.deps.log.warn(
        { deliveryId: d.id, userId: d.userId, roomId: d.roomId, attempts: d.attempts, error },
        'webhook delivery given up (listed as failed; an operator can retry it)',
      );
    }
  }
}
