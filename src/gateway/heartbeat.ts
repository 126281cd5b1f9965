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
  /** True when any byte was written since the last call (then no heart-beat is needed). */
  takeWritten(): boolean;
  send(data: Buffer): void;
  /** Ms since any byte was received. */
  silentForMs(): number;
  onDead(): void;
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
    if (sendEvery > 0) {
      this.sendTimer = setInterval(() => {
        if (!this.io.takeWritten()) this.io.send(HEARTBEAT);
      }, sendEvery);
    }
    if (deadAfter > 0) this.armDeadline(deadAfter, deadAfter);
  }

  private armDeadline(deadAfter: number, inMs: number): void {
    this.deadTimer = setTimeout(() => {
      const silent = this.io.silentForMs();
      if (silent >= deadAfter) this.io.onDead();
      else this.armDeadline(deadAfter, deadAfter - silent);
    }, inMs);
  }

  stop(): void {
    if (this.sendTimer) clearInterval(this.sendTimer);
    if (this.deadTimer) clearTimeout(this.deadTimer);
    this.sendTimer = this.deadTimer = null;
  }
}
