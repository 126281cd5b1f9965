// Catching a room subscription up from the store — a since-seq replay, a client-ack subscriber resuming, or a
// subscription that fell behind — then switching it to live with no gap and no duplicate at the seam (see
// RoomSubscription.goLive). Pages are written under the ack window and the output drains between pages, so a
// replay of any length holds at most a page and the outbox bound in memory; concurrent replays are bounded per
// connection and per user, and what a user has replayed is charged to the replay budget (chat/replay-budget.ts):
// a replay starts only with budget left, and one that overdraws it is paced down to the budget's rate.
import type { Frame } from '../../protocol/index.js';
import { catchUp, type CatchUpDeps } from '../chat/catch-up.js';
import { prepareLive } from '../fanout/live.js';
import type { ChatMessage, MessageView } from '../shared/model.js';
import type { Semaphore } from './semaphore.js';
import type { RoomSubscription } from './subscriptions.js';

/** How long a replay waits for the persist consumer to store what was already broadcast. */
const REPLAY_WAIT_MS = 10_000;

export interface ReplayHost {
  /** false once the connection is closed. */
  active(): boolean;
  catchUp: CatchUpDeps;
  views(roomId: string, messages: readonly ChatMessage[]): Promise<MessageView[]>;
  /** The hub's last delivered seq of the room (the live side of the seam). */
  hubLastSeq(roomId: string): bigint | null;
  /** Resolves once the connection's output is below half its bound. */
  drained(): Promise<void>;
  connectionSlots: Semaphore;
  userSlots: Semaphore;
  receipt(frame: Frame, headers: Record<string, string>): void;
  failFrame(err: unknown, frame: Frame): void;
  warn(data: object, message: string): void;
  /** Called when the catch-up ends (a finishing connection may close then). */
  ended(): void;
  /** The user's replay budget, for catch-ups a SUBSCRIBE asked for; null for a live subscription that fell behind. */
  budget: { admit(): Promise<void>; charge(n: number): Promise<number> } | null;
}

/**
 * Catches `sub` up to `target` (e.g. the room's last broadcast seq when the SUBSCRIBE arrived) and to whatever
 * the hub delivered meanwhile, then makes it live. With `receiptFor`, the RECEIPT of that SUBSCRIBE follows
 * and says where the replay ended (`replayed-count`, `replay-end-seq`; `replay-complete:false` when the store
 * did not catch up in time).
 */
export async function catchUpSubscription(host: ReplayHost, sub: RoomSubscription, target: bigint | null, receiptFor?: Frame): Promise<void> {
  if (sub.catchingUp) return;
  sub.catchingUp = true;
  const releaseConn = await host.connectionSlots.acquire();
  const releaseUser = await host.userSlots.acquire();
  const from = sub.lastSeq;
  const active = () => !sub.closed && host.active();
  let delivered = 0;
  let complete = true;
  const pace = { waitMs: 0 };
  try {
    await host.budget?.admit();
    for (;;) {
      const result = await catchUp(host.catchUp, {
        roomId: sub.roomId,
        after: sub.lastSeq,
        target: () => maxSeq(target, host.hubLastSeq(sub.roomId)),
        deliver: (page) => deliverPage(host, sub, page, active, pace),
        active,
        deadline: Date.now() + REPLAY_WAIT_MS,
      });
      delivered += result.delivered;
      if (!active()) return;
      if (!result.complete) {
        complete = false;
        host.warn({ roomId: sub.roomId, target: String(target) }, 'replay stopped before the broadcast high-water mark');
      }
      if (sub.goLive()) break;
      // The live buffer overflowed meanwhile: catch up again, to what the hub has delivered by now.
      target = null;
    }
    if (receiptFor) {
      host.receipt(receiptFor, {
        'replayed-count': String(delivered),
        'replay-end-seq': (sub.lastSeq > from ? sub.lastSeq : from).toString(),
        ...(complete ? {} : { 'replay-complete': 'false' }),
      });
    }
  } catch (err) {
    if (receiptFor) host.failFrame(err, receiptFor);
    else host.warn({ err, roomId: sub.roomId }, 'catch-up failed');
  } finally {
    sub.catchingUp = false;
    releaseUser();
    releaseConn();
    host.ended();
  }
}

/** Writes a page under the ack window, lets the output drain, and charges what went out to the budget. */
async function deliverPage(host: ReplayHost, sub: RoomSubscription, page: ChatMessage[], active: () => boolean, pace: { waitMs: number }): Promise<bigint> {
  // Over budget after the previous page: wait until it is paid back before the next one.
  if (pace.waitMs > 0) await new Promise((r) => setTimeout(r, pace.waitMs));
  const views = await host.views(sub.roomId, page);
  let written = 0;
  for (const view of views) {
    await sub.windowOpen();
    if (!active()) break;
    const before = sub.lastSeq;
    sub.write(prepareLive(view));
    if (sub.lastSeq !== before) written++;
  }
  await host.drained();
  pace.waitMs = host.budget ? await host.budget.charge(written) : 0;
  return sub.lastSeq;
}

function maxSeq(a: bigint | null, b: bigint | null): bigint | null {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}
