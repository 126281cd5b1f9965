// Inbound flow control of one connection: reading stops while the connection is over a rate (its further bytes
// wait in the kernel, then in the client: backpressure, as Kafka and RabbitMQ throttle) or while too many of its
// frames wait to be handled; a connection kept over its rate for longer than `abuseMs` is told to stop.
import type { SessionFailure } from './session-state.js';
import type { Transport } from './transport.js';

export const enum Pause {
  Rate = 1,
  Backlog = 2,
}

/** Which budget a charge is against (each has its own "over since"). */
export const enum Budget {
  Frames = 0,
  Sends = 1,
}

/** What the flow control tells its connection (methods of the session: no closures per connection). */
export interface FlowHost {
  /** The connection was over its rate for longer than `abuseMs`. */
  abused(): void;
  /** Reading resumed (the peer's silence while we did not read is not its silence). */
  readResumed(): void;
}

export class InboundFlow {
  private paused = 0;
  private rateTimer: NodeJS.Timeout | null = null;
  /** Per budget, since when the connection is over it; made on the first charge over (most never are). */
  private overSince: Array<number | null> | null = null;

  constructor(
    private readonly transport: Pick<Transport, 'pause' | 'resume'>,
    private readonly abuseMs: number,
    private readonly host: FlowHost,
  ) {}

  /** true while the connection is not being read (its bytes wait in the kernel, unseen). */
  get isPaused(): boolean {
    return this.paused !== 0;
  }

  /**
   * `waitMs` > 0: over `budget` by that long; stop reading until then. 0: within it — and `recovered` says whether
   * the budget is back to comfortable (half its burst): only then does "over since" end, so a client that sends as
   * fast as the pauses let it (a token refilled during each pause) is still seen as staying over.
   */
  charge(waitMs: number, budget: Budget, recovered = true): void {
    if (waitMs <= 0) {
      if (recovered && this.overSince) this.overSince[budget] = null;
      return;
    }
    const now = Date.now();
    const since = ((this.overSince ??= [null, null])[budget] ??= now);
    if (now - since > this.abuseMs) {
      // Stays paused: no earlier timer may resume reading a connection that is being told to stop.
      if (this.rateTimer) clearTimeout(this.rateTimer);
      this.rateTimer = null;
      this.pause(Pause.Rate);
      this.host.abused();
      return;
    }
    this.pause(Pause.Rate);
    if (this.rateTimer) clearTimeout(this.rateTimer);
    this.rateTimer = setTimeout(() => {
      this.rateTimer = null;
      this.resume(Pause.Rate);
    }, waitMs);
  }

  pause(reason: Pause): void {
    if (this.paused === 0) this.transport.pause();
    this.paused |= reason;
  }

  resume(reason: Pause): void {
    if ((this.paused & reason) === 0) return;
    this.paused &= ~reason;
    if (this.paused === 0) {
      this.transport.resume();
      this.host.readResumed();
    }
  }

  stop(): void {
    if (this.rateTimer) clearTimeout(this.rateTimer);
    this.rateTimer = null;
  }
}

/** What the frame deadline reads of the decoder: the frame being decoded. */
export interface FrameInput {
  /** Bytes of the frame being decoded (0 between frames). */
  readonly bufferedBytes: number;
  /** The `receipt` header of that frame, once its headers are read. */
  readonly pendingReceipt: string | undefined;
}

/**
 * A frame started but not completed within `ms` closes the connection (a half-sent frame must not hold it
 * forever). Time while the connection is not being read does not count: the deadline restarts on resume.
 */
export class FrameDeadline {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ms: number,
    private readonly input: FrameInput,
    private readonly flow: Pick<InboundFlow, 'isPaused'>,
    /** Told the ERROR to end the connection with. */
    private readonly session: { fail(failure: SessionFailure): void },
  ) {}

  /** After every read: arms the deadline while a frame is incomplete, disarms it when none is. */
  check(restart = false): void {
    if (this.timer && (restart || this.input.bufferedBytes === 0)) this.stop();
    if (this.timer || this.input.bufferedBytes === 0) return;
    this.timer = setTimeout(frameDeadlineDue, this.ms, this);
  }

  /** @internal the timer fired */
  expire(): void {
    this.timer = null;
    // Still incomplete and read all along: expired. (Paused: re-armed on resume.)
    if (this.input.bufferedBytes > 0 && !this.flow.isPaused) {
      this.session.fail({ code: 'bad-frame', message: 'frame not completed in time', receiptId: this.input.pendingReceipt });
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

function frameDeadlineDue(d: FrameDeadline): void {
  d.expire();
}
