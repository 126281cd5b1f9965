// STOMP heart-beating (1.1+): negotiation, our beats, and dead-peer detection at the negotiated deadline.
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
}

/**
 * How much earlier than the agreed interval a beat is due: timers only ever fire late (a busy loop, GC), and the
 * spec says "at least every n ms", so a little headroom keeps the largest gap at or under n.
 */
export function beatLead(sendEvery: number): number {
  return Math.min(250, Math.floor(sendEvery / 10));
}

/**
 * One per connection that heart-beats, so its size counts: one timer for both directions (armed for whichever is
 * due first), calling a module function with the instance as its argument (no closure and context per firing).
 */
export class Heartbeats {
  private timer: NodeJS.Timeout | null = null;
  /** How long after the last write a beat is due (0: we do not beat). */
  private dueAfter = 0;
  /** How long the peer may be silent (0: not checked). */
  private deadAfter = 0;

  /** Starts the negotiated timers; null when neither side heart-beats. */
  static start(agreed: { sendEvery: number; deadAfter: number }, io: HeartbeatIo): Heartbeats | null {
    if (agreed.sendEvery <= 0 && agreed.deadAfter <= 0) return null;
    const h = new Heartbeats(io);
    h.start(agreed.sendEvery, agreed.deadAfter);
    return h;
  }

  constructor(private readonly io: HeartbeatIo) {}

  start(sendEvery: number, deadAfter: number): void {
    this.dueAfter = sendEvery > 0 ? sendEvery - beatLead(sendEvery) : 0;
    this.deadAfter = Math.max(0, deadAfter);
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

  private arm(beatIn: number, deadlineIn: number): void {
    this.timer = setTimeout(heartbeatsDue, Math.min(beatIn, deadlineIn), this);
  }
}

function heartbeatsDue(h: Heartbeats): void {
  h.due();
}
