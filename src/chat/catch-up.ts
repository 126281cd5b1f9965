// Reading a room's stored messages after a seq, page by page, waiting for the persist consumer when the store is
// behind what was already broadcast. One routine for both catch-ups of the system: a since-seq replay (and a
// client-ack subscriber resuming) in the gateway, and the hub's repair of a gap the at-most-once bus left.
import { setTimeout as delay } from 'node:timers/promises';
import type { ChatMessage } from '../shared/model.js';

export interface CatchUpDeps {
  /** Stored messages with seq > afterSeq, oldest first. */
  messagesAfter(roomId: string, afterSeq: string, limit: number): Promise<ChatMessage[]>;
  pageSize?: number;
  /** Poll interval while waiting for the store to reach the target. */
  pollMs?: number;
  sleep?(ms: number): Promise<void>;
}

export interface CatchUpRun {
  roomId: string;
  /** The seq already delivered; the first page starts after it. */
  after: bigint;
  /**
   * The seq that must be reached (everything up to it exists in the log, e.g. the room's last broadcast seq), or
   * null to read only what is stored now. Asked again after every page (it may grow); the run waits for the
   * store to reach it, until `deadline`.
   */
  target(): bigint | null;
  /** Delivers a page (oldest first); may wait (output drain, an ack window). Returns the last seq delivered. */
  deliver(page: ChatMessage[]): Promise<bigint>;
  /** false to stop early (subscription gone, connection closed). */
  active(): boolean;
  deadline: number;
}

export interface CatchUpResult {
  /** The last seq delivered (or `after` when nothing was). */
  last: bigint;
  delivered: number;
  /** true when the target was reached (false: stopped, or the store did not catch up before the deadline). */
  complete: boolean;
}

export async function catchUp(deps: CatchUpDeps, run: CatchUpRun): Promise<CatchUpResult> {
  const pageSize = deps.pageSize ?? 200;
  const sleep = deps.sleep ?? ((ms: number) => delay(ms));
  let last = run.after;
  let delivered = 0;
  for (;;) {
    if (!run.active()) return { last, delivered, complete: false };
    const target = run.target();
    if (target !== null && last >= target) return { last, delivered, complete: true };
    const page = await deps.messagesAfter(run.roomId, last.toString(), pageSize);
    if (!run.active()) return { last, delivered, complete: false };
    // Pages may run past the target: whatever was also delivered live is dropped by seq downstream.
    if (page.length > 0) {
      last = await run.deliver(page);
      delivered += page.length;
      if (page.length === pageSize) continue;
    }
    if (target === null) return { last, delivered, complete: true };
    if (last >= target) continue;
    if (Date.now() > run.deadline) return { last, delivered, complete: false };
    await sleep(deps.pollMs ?? 25);
  }
}
