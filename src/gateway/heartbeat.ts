// STOMP heart-beating (1.1+): negotiation, our beats, and dead-peer detection at the negotiated deadline; and the
// session's end with its token, on the same timer.
import { HEARTBEAT } from '../../protocol/index.js';
import { appError } from '../shared/errors.js';

/** `heart-beat: cx,cy` of a CONNECT frame. */
export function parseHeartBeat(value: string | undefined): [number, number] {
  if (!value) return [0, 0];
  const m = /^\s*(\d{1,9})\s*,\s*(\d{1,9})\s*$/.exec(value);
  if (!m) throw appError('bad-frame', 'heart-beat must be "<cx>,<cy>"');
  return [Number(m[1]), Number(m[2])];
}

/**
 * Spec: we send every max(ours, cy) when both are non-zero; the client sends every max(cx, ours). A peer is dead
 * when nothing at all arrived for twice its interval plus a fixed grace (timers and busy loops run late; a live
 * client must never be cut for that) — checked by a timer armed for exactly that deadline, not by polling.
 */
export function negotiate(ours: number, cx: number, cy: number, graceMs = 2000): { sendEvery: number; deadAfter: number } {
  const sendEvery = ours > 0 && cy > 0 ? Math.max(ours, cy) : 0;
  const expectEvery = ours > 0 && cx > 0 ? Math.max(ours, cx) : 0;
  return { sendEvery, deadAfter: expectEvery > 0 ? expectEvery * 2 + graceMs : 0 };
}

export interface HeartbeatIo {
  /** When the connection last wrote anything (performance.now() ms): a frame counts as a beat. */
  lastWriteAt(): number;
  /** Writes a heart-beat (and records it as the last write). */
  sendHeartbeat(data: Buffer): void;
  /** Ms since any byte was received. */
  silentForMs(): number;
  /** Nothing arrived in time: the peer is gone. */
  peerDead(): void;
  /** The session's token ran out: the session ends. */
  tokenExpired(): void;
}

/** setTimeout's longest delay (a longer one fires at once); a later end is re-armed when the timer fires. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * How much earlier than the agreed interval a beat is due: timers only ever fire late (a busy loop, GC), and the
 * spec says "at least every n ms", so a little headroom keeps the largest gap at or under n.
 */
export function beatLead(sendEvery: number): number {
  return Math.min(250, Math.floor(sendEvery / 10));
}

/**
 * One per connection, so its size counts: one timer for our beats, the peer's deadline and the token's end (armed
 * for whichever is due first; a timer of its own for the token cost ~200 bytes per connection), calling a module
 * function with the instance as its argument (no closure and context per firing).
 */
export class Heartbeats {
  private timer: NodeJS.Timeout | null = null;
  /** The delay `timer` was made with: `refresh()` re-arms it for that delay without a new Timeout. */
  private armedMs = 0;
  /** How long after the last write a beat is due (0: we do not beat). */
  private dueAfter = 0;
  /** How long the peer may be silent (0: not checked). */
  private deadAfter = 0;
  /** When the token runs out (Date.now() ms; 0: never). */
  private endsAt = 0;

  /** Starts the negotiated timers and the token's; null when neither side heart-beats and the token never ends. */
  static start(agreed: { sendEvery: number; deadAfter: number }, io: HeartbeatIo, endsAt: number | null = null): Heartbeats | null {
    if (agreed.sendEvery <= 0 && agreed.deadAfter <= 0 && endsAt === null) return null;
    const h = new Heartbeats(io);
    h.start(agreed.sendEvery, agreed.deadAfter, endsAt ?? 0);
    return h;
  }

  constructor(private readonly io: HeartbeatIo) {}

  start(sendEvery: number, deadAfter: number, endsAt = 0): void {
    this.dueAfter = sendEvery > 0 ? sendEvery - beatLead(sendEvery) : 0;
    this.deadAfter = Math.max(0, deadAfter);
    // 0 stays "never"; a token already out ends the session at the first firing.
    this.endsAt = endsAt > 0 ? endsAt : 0;
    this.arm(this.dueAfter > 0 ? this.beatIn() : Infinity, this.deadAfter > 0 ? this.deadAfter : Infinity);
  }

  /**
   * The next beat is timed from the last write, not from a fixed tick: a tick that skipped because something was
   * written just after the previous one let the gap grow to almost twice the interval (a client enforcing its
   * incoming interval then cut us). Writes only record their time (no timer work per frame); each firing computes
   * how long the connection has really been quiet and either beats or sleeps for the rest. The peer is dead once
   * nothing arrived for `deadAfter`; a firing before that sleeps for the rest of it.
   *
   * @internal the timer fired
   */
  due(): void {
    if (this.endsAt > 0 && Date.now() >= this.endsAt) {
      this.timer = null;
      return this.io.tokenExpired();
    }
    let nextBeat = Infinity;
    let nextDeadline = Infinity;
    if (this.deadAfter > 0) {
      const silent = this.io.silentForMs();
      if (silent >= this.deadAfter) return this.io.peerDead();
      nextDeadline = this.deadAfter - silent;
    }
    if (this.dueAfter > 0) {
      if (performance.now() - this.io.lastWriteAt() >= this.dueAfter) this.io.sendHeartbeat(HEARTBEAT);
      nextBeat = this.beatIn();
    }
    // Stopped meanwhile (the heart-beat's write closed the connection): no new timer.
    if (this.timer !== null) this.arm(nextBeat, nextDeadline);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private beatIn(): number {
    return Math.max(0, this.dueAfter - (performance.now() - this.io.lastWriteAt()));
  }

  /**
   * In whole ms (setTimeout's resolution), so that an idle connection asks for the same delay at every beat and
   * its timer is re-armed in place. A new Timeout per beat lived exactly one interval: it was promoted to the old
   * generation and became garbage there (with its argument array, ~230 bytes per connection per beat).
   */
  private arm(beatIn: number, deadlineIn: number): void {
    const endsIn = this.endsAt > 0 ? Math.max(0, this.endsAt - Date.now()) : Infinity;
    const ms = Math.max(1, Math.ceil(Math.min(beatIn, deadlineIn, endsIn, MAX_DELAY_MS)));
    if (this.timer !== null && ms === this.armedMs) {
      this.timer.refresh();
      return;
    }
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(heartbeatsDue, ms, this);
    this.armedMs = ms;
  }
}

function heartbeatsDue(h: Heartbeats): void {
  h.due();
}
