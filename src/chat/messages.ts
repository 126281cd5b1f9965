// Sending and reading messages. Sends go through one FIFO pipeline per process: a batch of sends is checked in
// one store round trip (membership) and one burst of idempotency claims, then appended to the log in arrival
// order — so a connection's pipelined SENDs keep their order, a member who left is refused from the moment the
// leave committed, and the checks cost one query per batch instead of one per message.
import { randomUUID } from 'node:crypto';
import type { IdempotencyRecord, IdempotencyStore } from '../counters/idempotency.js';
import type { LogUnavailableError, MessageLog } from '../log/message-log.js';
import { dropFailure, type CountDropped } from '../shared/dropped.js';
import { appError } from '../shared/errors.js';
import type { ChatMessage, MessageView, NewMessage, UserRef } from '../shared/model.js';
import type { Store } from '../store/store.js';
import type { SendInput } from './input.js';
import type { Membership } from './membership.js';
import type { ReadService } from './reads.js';

export interface SendResult {
  message: ChatMessage;
  /** true when the idempotency key mapped to an earlier message: nothing new was sent. */
  duplicate: boolean;
}

export interface MessageServiceDeps {
  store: Pick<Store, 'findMessageByIdempotencyKey' | 'messagesAfter' | 'messagesBefore'>;
  log: Pick<MessageLog, 'append' | 'appendAtomically'>;
  idempotency: IdempotencyStore;
  membership: Pick<Membership, 'require' | 'check'>;
  reads: Pick<ReadService, 'views'>;
  now?: () => Date;
  /** How long a send waits for another in-flight send with the same idempotency key. */
  claimWaitMs?: number;
  /** Counts idempotency keys that could not be released or completed (they expire; the store answers for them). */
  dropped: CountDropped;
}

interface Pending {
  user: UserRef;
  roomId: string;
  input: SendInput;
  resolve(r: SendResult): void;
  reject(err: unknown): void;
}

const MAX_BATCH = 500;
/** How often a claim in doubt gets its pending lifetime (30 s) back. */
const RENEW_MS = 10_000;

export class MessageService {
  private queue: Pending[] = [];
  private draining = false;

  constructor(private readonly deps: MessageServiceDeps) {}

  /**
   * Appends a message to the room's log; resolves once the log acknowledged it, with its final seq. Sends are
   * appended in the order of the calls (the checks of concurrent sends are batched, never reordered). The same
   * (sender, idempotency key) always resolves to the same message, never a second record.
   * Rejects with `forbidden` for a non-member, `server-unavailable` when the log or the checks are down.
   */
  send(user: UserRef, roomId: string, input: SendInput): Promise<SendResult> {
    return new Promise<SendResult>((resolve, reject) => {
      this.queue.push({ user, roomId, input, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        // Everything submitted in this turn of the event loop joins the same batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  /** A send answered as the API's message JSON (REST). */
  async sendView(user: UserRef, roomId: string, input: SendInput): Promise<{ message: MessageView; duplicate: boolean }> {
    const { message, duplicate } = await this.send(user, roomId, input);
    const [view] = await this.deps.reads.views(roomId, [message]);
    return { message: view!, duplicate };
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        await this.process(batch);
      }
    } finally {
      this.draining = false;
    }
  }

  private async process(batch: Pending[]): Promise<void> {
    let members: boolean[];
    try {
      members = await this.deps.membership.check(batch.map((p) => ({ roomId: p.roomId, userId: p.user.id })));
    } catch (err) {
      const e = appError('server-unavailable', 'membership could not be checked; retry', undefined, err);
      for (const p of batch) p.reject(e);
      return;
    }
    const messages = batch.map((p) => this.newMessage(p.user, p.roomId, p.input));
    // Claims run together; appends below stay in arrival order.
    const claims = await Promise.all(
      batch.map((p, i) => (members[i] && p.input.idempotencyKey !== null ? this.claim(p.user.id, p.input.idempotencyKey, messages[i]!.id) : null)),
    );
    batch.forEach((p, i) => {
      if (!members[i]) return p.reject(appError('forbidden', 'not a member of this room (or no such room)'));
      const claim = claims[i];
      if (claim instanceof Error) return p.reject(claim);
      if (claim && claim.state === 'done') return p.resolve({ message: claim.message, duplicate: true });
      if (claim && claim.state === 'pending') return void this.waitForOther(p, messages[i]!).then(p.resolve, p.reject);
      // Not awaited: the log queues appends synchronously, in this order.
      this.append(p.user.id, p.input.idempotencyKey, messages[i]!).then(p.resolve, p.reject);
    });
  }

  private newMessage(user: UserRef, roomId: string, input: SendInput): NewMessage {
    return {
      id: randomUUID(),
      roomId,
      senderId: user.id,
      type: input.type,
      content: input.content,
      idempotencyKey: input.idempotencyKey,
      createdAt: (this.deps.now?.() ?? new Date()).toISOString(),
    };
  }

  private async append(senderId: string, key: string | null, message: NewMessage): Promise<SendResult> {
    let chat: ChatMessage;
    try {
      chat = { ...message, ...(await this.deps.log.append(message)) };
    } catch (err) {
      if (key !== null) await this.unclaim(senderId, key, message, err);
      throw appError('server-unavailable', 'the message log did not acknowledge the message; retry', undefined, err);
    }
    if (key !== null) await dropFailure(this.deps.idempotency.complete(senderId, key, chat), 'idempotency-key', this.deps.dropped);
    return { message: chat, duplicate: false };
  }

  /**
   * After a send the log did not acknowledge. Never sent: the key is free at once (a retry appends the message). Sent
   * and in doubt: the key stays pending (renewed) until the log knows — then it maps to the message if it landed, so
   * a retry answers with it instead of writing a second one, or is freed if it did not. When even the log cannot tell
   * (its producer failed mid-request), the claim runs out by itself and the store answers a later retry.
   */
  private async unclaim(senderId: string, key: string, message: NewMessage, err: unknown): Promise<void> {
    const doubt =
      (err as Partial<LogUnavailableError>)?.name === 'LogUnavailableError' && (err as LogUnavailableError).inDoubt ? (err as LogUnavailableError) : null;
    const { idempotency } = this.deps;
    const dropped = this.deps.dropped;
    if (!doubt) return dropFailure(idempotency.release(senderId, key), 'idempotency-key', dropped);
    // A failed renewal is tried again in 10 s; the claim lives 30 s.
    const renewal = setInterval(() => void dropFailure(idempotency.renew(senderId, key, message.id), 'idempotency-key', dropped), RENEW_MS);
    renewal.unref();
    const settle = doubt.outcome.then(async (outcome) => {
      if (outcome === null) await idempotency.release(senderId, key);
      else if (outcome !== 'unknown') await idempotency.complete(senderId, key, { ...message, ...outcome });
    });
    // Not awaited: the caller is answered now; the key follows the outcome whenever it comes.
    void dropFailure(settle, 'idempotency-key', dropped).finally(() => clearInterval(renewal));
  }

  /**
   * null: this send owns the key. Otherwise what the key maps to (an earlier message, or another send in flight).
   * The store is asked too: the cache may have forgotten a key used before.
   */
  private async claim(senderId: string, key: string, messageId: string): Promise<IdempotencyRecord | null | Error> {
    try {
      const record = await this.deps.idempotency.claim(senderId, key, messageId);
      if (record !== null) return record;
      const stored = await this.deps.store.findMessageByIdempotencyKey(senderId, key);
      if (!stored) return null;
      await this.deps.idempotency.complete(senderId, key, stored);
      return { state: 'done', message: stored };
    } catch (err) {
      return appError('server-unavailable', 'idempotency keys are unavailable; retry', undefined, err);
    }
  }

  /**
   * Another send with this key is in flight: wait for its outcome (or take the key over if it gave up). The store is
   * asked too, every quarter second: a claim whose completion Redis lost (a failover) stays pending until it expires,
   * though its message is stored.
   */
  private async waitForOther(p: Pending, message: NewMessage): Promise<SendResult> {
    const key = p.input.idempotencyKey!;
    const deadline = Date.now() + (this.deps.claimWaitMs ?? 10_000);
    for (let round = 1; ; round++) {
      await new Promise((r) => setTimeout(r, 20));
      const record = await this.claim(p.user.id, key, message.id);
      if (record instanceof Error) throw record;
      if (record === null) return this.append(p.user.id, key, message);
      if (record.state === 'done') return { message: record.message, duplicate: true };
      const stored = round % 12 === 0 ? await this.deps.store.findMessageByIdempotencyKey(p.user.id, key).catch(() => null) : null;
      if (stored) return { message: stored, duplicate: true };
      if (Date.now() > deadline) throw appError('conflict', 'a send with this idempotency key is still in progress', 'idempotencyKey');
    }
  }

  /** The SENDs of a STOMP transaction: all appended atomically (one Kafka transaction) or none. */
  async sendAtomically(user: UserRef, items: ReadonlyArray<{ roomId: string; input: SendInput }>): Promise<SendResult[]> {
    const members = await this.deps.membership.check(items.map((it) => ({ roomId: it.roomId, userId: user.id })));
    if (members.some((m) => !m)) throw appError('forbidden', 'not a member of every room of the transaction');
    const messages = items.map((it) => this.newMessage(user, it.roomId, it.input));
    const claims = await Promise.all(
      items.map((it, i) => (it.input.idempotencyKey === null ? null : this.claim(user.id, it.input.idempotencyKey, messages[i]!.id))),
    );
    for (const c of claims) if (c instanceof Error) throw c;
    if (claims.some((c) => c !== null && !(c instanceof Error) && c.state === 'pending')) {
      throw appError('conflict', 'a send with one of these idempotency keys is still in progress', 'idempotencyKey');
    }
    const fresh = messages.filter((_, i) => claims[i] === null);
    let appended;
    try {
      appended = fresh.length > 0 ? await this.deps.log.appendAtomically(fresh) : [];
    } catch (err) {
      await Promise.all(
        items.map((it, i) =>
          claims[i] === null && it.input.idempotencyKey !== null
            ? this.unclaim(user.id, it.input.idempotencyKey, messages[i]!, inDoubtOfTransaction(err))
            : null,
        ),
      );
      throw appError('server-unavailable', 'the transaction was not committed', undefined, err);
    }
    let k = 0;
    return Promise.all(
      messages.map(async (m, i) => {
        const claim = claims[i];
        if (claim && !(claim instanceof Error) && claim.state === 'done') return { message: claim.message, duplicate: true };
        const chat: ChatMessage = { ...m, ...appended[k++]! };
        if (m.idempotencyKey !== null) await dropFailure(this.deps.idempotency.complete(user.id, m.idempotencyKey, chat), 'idempotency-key', this.deps.dropped);
        return { message: chat, duplicate: false };
      }),
    );
  }

  async history(
    user: UserRef,
    roomId: string,
    q: { limit: number; before?: string | null; afterSeq?: string | null },
  ): Promise<{ messages: MessageView[]; nextCursor?: string | null; hasMore?: boolean }> {
    await this.deps.membership.require(roomId, user.id);
    if (q.afterSeq !== undefined && q.afterSeq !== null) {
      const page = await this.deps.store.messagesAfter(roomId, q.afterSeq, q.limit + 1);
      const hasMore = page.length > q.limit;
      return { messages: await this.deps.reads.views(roomId, page.slice(0, q.limit)), hasMore };
    }
    const page = await this.deps.store.messagesBefore(roomId, q.before ?? null, q.limit + 1);
    const more = page.length > q.limit;
    const list = page.slice(0, q.limit);
    return { messages: await this.deps.reads.views(roomId, list), nextCursor: more ? list[list.length - 1]!.seq : null };
  }
}

/**
 * A transaction in doubt commits all its messages or none; its outcome names only the first one's place, so each
 * message's claim is kept until it runs out (the store answers a later retry) unless the transaction surely aborted.
 */
function inDoubtOfTransaction(err: unknown): unknown {
  const doubt = err as Partial<LogUnavailableError>;
  if (doubt?.name !== 'LogUnavailableError' || !doubt.inDoubt) return err;
  return { name: 'LogUnavailableError', inDoubt: true, outcome: doubt.outcome!.then((o) => (o === null ? null : 'unknown')) };
}
