// A session's SENDs: to a room (flow-controlled, appended in frame order, RECEIPT once the log acknowledged), in a
// transaction (held under the transaction budget, appended atomically at COMMIT), typing on a room's `.events`,
// and read positions on `/app/rooms.<id>.read`.
import type { Frame } from '../../protocol/index.js';
import type { Events } from '../chat/events.js';
import type { SendInput } from '../chat/input.js';
import type { Membership } from '../chat/membership.js';
import type { MessageService } from '../chat/messages.js';
import type { ReadService } from '../chat/reads.js';
import type { Limits, RateLimits } from '../config.js';
import type { Metrics } from '../metrics/metrics.js';
import { appError } from '../shared/errors.js';
import type { SessionUser } from '../shared/model.js';
import { TokenBucket } from '../shared/token-bucket.js';
import type { z } from 'zod';
import { parseDestination } from './destinations.js';
import type { UserSendLimiter } from './rate-limit.js';
import { parseReadBody, parseSend } from './stomp-input.js';
import { requireHeader } from './subscription-set.js';
import { Transactions } from './transactions.js';

const TYPING_INTERVAL_MS = 1000;
const EMPTY = Buffer.alloc(0);

export interface SendDeps {
  messages: Pick<MessageService, 'send' | 'sendAtomically'>;
  membership: Pick<Membership, 'require'>;
  reads: Pick<ReadService, 'markRead'>;
  events: Pick<Events, 'room'>;
  sendSchema: z.ZodType<SendInput>;
  userSends: Pick<UserSendLimiter, 'charge'>;
  limits: Limits;
  rate: RateLimits;
  metrics: Metrics;
}

export interface SendHost {
  readonly user: SessionUser;
  /** false once the connection is closed. */
  active(): boolean;
  /** Over a rate by `waitMs`: the connection stops reading for that long (see flow.ts). */
  throttle(waitMs: number, recovered: boolean): void;
  receipt(frame: Frame, headers?: Record<string, string>): void;
  failFrame(err: unknown, frame: Frame): void;
  /** A SEND's outcome went out (a finishing connection may close then). */
  settled(): void;
}

export class Sends {
  /** SENDs handed to the log whose RECEIPT (or ERROR) has not gone out yet. */
  inflight = 0;
  private readonly bucket: TokenBucket;
  private transactions: Transactions | null = null;
  private lastTyping: Map<string, number> | null = null;
  /** Who waits for `inflight` to reach zero (a DISCONNECT; frames are handled one at a time, so at most one). */
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly host: SendHost,
    private readonly deps: SendDeps,
  ) {
    this.bucket = new TokenBucket(deps.rate.connPerSec, deps.rate.connBurst);
  }

  async send(frame: Frame): Promise<void> {
    const user = this.host.user;
    const dest = parseDestination(requireHeader(frame, 'destination'));
    if (dest?.kind === 'room') {
      const wait = Math.max(this.bucket.charge(), this.deps.userSends.charge(user.id));
      this.host.throttle(wait, this.bucket.level() >= 0.5);
      const input = parseSend(frame, this.deps.sendSchema);
      // Frames already read (a whole chunk, a WebSocket message) must not overdraw the budget: an over-budget SEND
      // waits out its debt here, holding the connection's later frames behind it, before it is appended.
      if (wait > 0) {
        await new Promise((r) => setTimeout(r, wait));
        if (!this.host.active()) return;
      }
      const tx = frame.headers.transaction;
      if (tx !== undefined) return this.txs().add(tx, { receipt: frame.headers.receipt, roomId: dest.roomId, input });
      // Appended in frame order (the send pipeline is FIFO); the RECEIPT waits for the log, off the frame chain.
      this.inflight++;
      this.deps.messages
        .send(user, dest.roomId, input)
        .then(
          ({ message, duplicate }) => {
            this.deps.metrics.messagesSent.inc({ via: 'stomp' });
            this.host.receipt(frame, receiptHeaders(message, duplicate));
          },
          (err: unknown) => this.host.failFrame(err, frame),
        )
        .finally(() => {
          if (--this.inflight === 0) this.wakeIdle();
          this.host.settled();
        });
      return;
    }
    if (dest?.kind === 'room-events') return this.typing(frame, dest.roomId);
    if (dest?.kind === 'read') {
      const result = await this.deps.reads.markRead(user, dest.roomId, parseReadBody(frame));
      return this.host.receipt(frame, { 'last-read-seq': result.lastReadSeq, 'unread-count': String(result.unreadCount) });
    }
    throw appError('unknown-destination', `cannot SEND to ${frame.headers.destination}`);
  }

  /** Typing is ephemeral: over one per second per room it is dropped, not an error; never stored. */
  private async typing(frame: Frame, roomId: string): Promise<void> {
    const now = Date.now();
    this.lastTyping ??= new Map();
    if (now - (this.lastTyping.get(roomId) ?? 0) >= TYPING_INTERVAL_MS) {
      await this.deps.membership.require(roomId, this.host.user.id);
      if (this.lastTyping.size >= this.deps.limits.maxSubscriptions) this.lastTyping.clear();
      this.lastTyping.set(roomId, now);
      await this.deps.events.room(roomId, 'typing', { userId: this.host.user.id });
    }
    this.host.receipt(frame);
  }

  begin(frame: Frame): void {
    this.txs().begin(requireHeader(frame, 'transaction'));
    this.host.receipt(frame);
  }

  async commit(frame: Frame): Promise<void> {
    const sends = this.txs().take(frame.headers.transaction);
    if (sends.length > 0) {
      const results = await this.deps.messages.sendAtomically(this.host.user, sends);
      if (!this.host.active()) return;
      this.deps.metrics.messagesSent.inc({ via: 'stomp' }, results.length);
      sends.forEach((send, i) => this.receiptOf(send.receipt, receiptHeaders(results[i]!.message, results[i]!.duplicate)));
    }
    this.host.receipt(frame);
  }

  abort(frame: Frame): void {
    // The SENDs were received and discarded: their receipts say so.
    for (const send of this.txs().take(frame.headers.transaction)) this.receiptOf(send.receipt, { discarded: 'true' });
    this.host.receipt(frame);
  }

  private receiptOf(receipt: string | undefined, headers: Record<string, string>): void {
    if (receipt !== undefined) this.host.receipt({ command: 'SEND', headers: { receipt }, body: EMPTY }, headers);
  }

  /** Resolves once no SEND waits for the log (at once when none does), when the connection closes, or after `maxMs`. */
  async idle(maxMs: number): Promise<void> {
    if (this.inflight === 0) return;
    let deadline: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      deadline = setTimeout(resolve, maxMs);
    });
    clearTimeout(deadline);
  }

  private wakeIdle(): void {
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** Open transactions die with the connection (STOMP: aborted on disconnect). */
  close(): void {
    this.transactions?.clear();
    this.wakeIdle();
  }

  private txs(): Transactions {
    return (this.transactions ??= new Transactions({
      maxOpen: this.deps.limits.maxTransactions,
      maxFrames: this.deps.limits.maxTransactionFrames,
      maxBytes: this.deps.limits.maxTransactionBytes,
    }));
  }
}

/**
 * A SEND's RECEIPT: where the message is; `duplicate: true` when its idempotency key named a message written before
 * (a retry), so a client can tell a retry answered from an earlier write from a new one.
 */
function receiptHeaders(message: { id: string; seq: string }, duplicate: boolean): Record<string, string> {
  return duplicate ? { 'message-id': message.id, seq: message.seq, duplicate: 'true' } : { 'message-id': message.id, seq: message.seq };
}
