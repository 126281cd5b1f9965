// A STOMP connection's lifecycle: a ready state as `ws` keeps one (CONNECTING, OPEN, CLOSING, CLOSED), the only
// moves between them, and how a CLOSING connection ends. session.ts owns one Lifecycle and changes state only here.
import type { ErrorCode } from '../shared/errors.js';

/**
 * The states and the only moves between them (every move goes through Lifecycle.enter):
 *
 *   CONNECTING ── CONNECT authenticated ─────────────────────────────► OPEN
 *   CONNECTING, OPEN ── input ended, unreadable input, over a rate ──► CLOSING
 *   CLOSING ── the frames read and the SENDs taken are answered, or FINISH_MS passed ──► CLOSED
 *   CONNECTING, OPEN, CLOSING ── ERROR sent, transport gone, peer silent ──► CLOSED
 *
 * A CONNECT read before the connection started CLOSING is still handled: the session is then CLOSING with a user.
 */
export const ReadyState = Object.freeze({ CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const);
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

const MOVES: Readonly<Record<ReadyState, readonly ReadyState[]>> = {
  [ReadyState.CONNECTING]: [ReadyState.OPEN, ReadyState.CLOSING, ReadyState.CLOSED],
  [ReadyState.OPEN]: [ReadyState.CLOSING, ReadyState.CLOSED],
  [ReadyState.CLOSING]: [ReadyState.CLOSED],
  [ReadyState.CLOSED]: [],
};

/** Whether `to` may follow `from`. */
export function canMove(from: ReadyState, to: ReadyState): boolean {
  return MOVES[from].includes(to);
}

/** The ERROR a session ends with. */
export interface SessionFailure {
  /** API.md's short code, sent as the `message` header. */
  code: ErrorCode;
  /** The ERROR body: a sentence for the client, never internal error text. */
  message: string;
  /** The `receipt` of the frame that failed, echoed as `receipt-id`. */
  receiptId?: string | undefined;
  /** What went wrong underneath: logged (warn) with the code, never sent. */
  cause?: unknown;
  /** More ERROR headers (a version mismatch names the versions spoken). */
  headers?: Record<string, string> | undefined;
}

/** How a CLOSING session ends once the work it took is done. */
export interface Ending {
  /** The ERROR to send, or null for a plain close (the peer ended its input). */
  failure: SessionFailure | null;
  /** Input is no longer decoded (the decoder failed: nothing after the bad frame can be trusted). */
  deaf: boolean;
}

/** Two reasons to close seen together: an ERROR wins over a plain close, the first ERROR over a later one. */
export function mergeEndings(current: Ending | null, next: Ending): Ending {
  if (!current) return next;
  return { failure: current.failure ?? next.failure, deaf: current.deaf || next.deaf };
}

/** What the lifecycle asks of its session. */
export interface LifecycleHost {
  /** Frames read and not yet handled, or SENDs waiting for the log: a CLOSING session waits for them. */
  busy(): boolean;
  /** A subscription is catching up from the store: a plain close waits for it too (an ERROR does not). */
  catchingUp(): boolean;
  /** Send the ERROR, then close (ends in CLOSED). */
  fail(failure: SessionFailure): void;
  /** Close without an ERROR (ends in CLOSED). */
  close(): void;
}

export class Lifecycle {
  private current: ReadyState = ReadyState.CONNECTING;
  private endingOf: Ending | null = null;
  private finishTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly host: LifecycleHost,
    /** How long a CLOSING connection may take to answer what it took before it is ended anyway. */
    private readonly finishMs: number,
  ) {}

  get state(): ReadyState {
    return this.current;
  }

  get closed(): boolean {
    return this.current === ReadyState.CLOSED;
  }

  /** CLOSING only: how the connection will end. */
  get ending(): Ending | null {
    return this.endingOf;
  }

  /** The one place the state changes; a move the table above does not allow is a bug in the caller. */
  enter(next: ReadyState): void {
    if (!canMove(this.current, next)) throw new Error(`session lifecycle: no move from state ${this.current} to ${next}`);
    this.current = next;
    if (next === ReadyState.CLOSED && this.finishTimer) clearTimeout(this.finishTimer);
  }

  /**
   * Starts (or joins) CLOSING: the frames read and the SENDs taken are answered, then the connection ends as
   * `ending` says — or after finishMs, whatever is still in flight.
   */
  finish(ending: Ending): void {
    if (this.closed) return;
    this.endingOf = mergeEndings(this.endingOf, ending);
    if (this.current !== ReadyState.CLOSING) {
      this.enter(ReadyState.CLOSING);
      this.finishTimer = setTimeout(() => this.end(), this.finishMs);
      this.finishTimer.unref();
    }
    this.finishIfDone();
  }

  /** A CLOSING connection ends once nothing it took is unanswered. Called whenever a piece of work completes. */
  finishIfDone(): void {
    if (this.current !== ReadyState.CLOSING || this.host.busy()) return;
    if (this.endingOf?.failure || !this.host.catchingUp()) this.end();
  }

  private end(): void {
    const failure = this.endingOf?.failure;
    if (failure) this.host.fail(failure);
    else this.host.close();
  }
}
