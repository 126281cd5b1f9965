// Inbound flow control of one connection: reading stops while the connection is over a rate (its further bytes
// wait in the kernel, then in the client: backpressure, as Kafka and RabbitMQ throttle) or while too many of its
// frames wait to be handled; a connection kept over its rate for longer than `abuseMs` is told to stop.
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

export class InboundFlow {
  private paused = 0;
  private rateTimer: NodeJS.Timeout | null = null;
  private readonly overSince: Array<number | null> = [null, null];

  constructor(
    private readonly transport: Pick<Transport, 'pause' | 'resume'>,
    private readonly abuseMs: number,
    /** Called once the connection was over its rate for longer than `abuseMs`. */
    private readonly onAbuse: () => void,
    /** Called when reading resumes (the peer's silence while we did not read is not its silence). */
    private readonly onResume: () => void = () => {},
  ) {}

  /** true while the connection is not being read (its bytes wait in the kernel, unseen). */
  get isPaused(): boolean {
    return this.paused !== 0;
  }

  /** `waitMs` > 0: over `budget` by that long; stop reading until then. 0: within it. */
  charge(waitMs: number, budget: Budget): void {
    if (waitMs <= 0) {
      this.overSince[budget] = null;
      return;
    }
    const now = Date.now();
    const since = (this.overSince[budget] ??= now);
    if (now - since > this.abuseMs) {
      // Stays paused: no earlier timer may resume reading a connection that is being told to stop.
      if (this.rateTimer) clearTimeout(this.rateTimer);
      this.rateTimer = null;
      this.pause(Pause.Rate);
      this.onAbuse();
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
      this.onResume();
    }
  }

  stop(): void {
    if (this.rateTimer) clearTimeout(this.rateTimer);
    this.rateTimer = null;
  }
}
