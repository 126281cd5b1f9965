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
  send(data: Buffer): void;
  /** Ms since any byte was received. */
  silentForMs(): number;
  onDead(): void;
}

/**
 * How much earlier than the agreed interval a beat is due: timers only ever fire late (a busy loop, GC), and the
 * spec says "at least every n ms", so a little headroom keeps the largest gap at or under n.
 */
export function beatLead(sendEvery: number): number {
  return Math.min(250, Math.floor(sendEvery / 10));
}

export class Heartbeats {
  private sendTimer: NodeJS.Timeout | null = null;
  private deadTimer: NodeJS.Timeout | null = null;

  /** Starts the negotiated timers; null when neither side heart-beats. */
  static start(agreed: { sendEvery: number; deadAfter: number }, io: HeartbeatIo): Heartbeats | null {
    if (agreed.sendEvery <= 0 && agreed.deadAfter <= 0) return null;
    const h = new Heartbeats(io);
    h.start(agreed.sendEvery, agreed.deadAfter);
    return h;
  }

  constructor(private readonly io: HeartbeatIo) {}

  start(sendEvery: number, deadAfter: number): void {
    if (sendEvery > 0) this.armBeat(sendEvery - beatLead(sendEvery));
    if (deadAfter > 0) this.armDeadline(deadAfter, deadAfter);
  }

  /**
   * The next beat is timed from the last write, not from a fixed tick: a tick that skipped because something was
   * written just after the previous one let the gap grow to almost twice the interval (a client enforcing its
   * incoming interval then cut us). Writes only record their time (no timer work per frame); each firing computes
   * how long the connection has really been quiet and either beats or sleeps for the rest.
   */
  private armBeat(dueAfter: number): void {
    const wait = Math.max(0, dueAfter - (performance.now() - this.io.lastWriteAt()));
    this.sendTimer = setTimeout(() => {
      if (performance.now() - this.io.lastWriteAt() >= dueAfter) this.io.send(HEARTBEAT);
      this.armBeat(dueAfter);
    }, wait);
  }

  private armDeadline(deadAfter: number, inMs: number): void {
    this.deadTimer = setTimeout(() => {
      const silent = this.io.silentForMs();
      if (silent >= deadAfter) this.io.onDead();
      else this.armDeadline(deadAfter, deadAfter - silent);
    }, inMs);
  }

  stop(): void {
    if (this.sendTimer) clearTimeout(this.sendTimer);
    if (this.deadTimer) clearTimeout(this.deadTimer);
    this.sendTimer = this.deadTimer = null;
  }
}
