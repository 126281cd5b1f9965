// The notify group's `unread` events, per member and room: the first goes out at once, later ones at most once per
// window with the latest count. Counts are absolute, so skipping the ones in between loses nothing.
//
// Before, each event was a PUBLISH of its own, and each delayed one had a timer of its own: at 500 msgs/s into
// rooms of 10, about 600 commands a second. Now the events due in one event-loop turn go out in one publish, and
// the delayed ones fall due on a coarse clock (ticks of TICK_MS), so those of one tick go out together too.
import { TurnBatch } from '../shared/turn-batch.js';

/** One user's event. */
export interface UnreadEvent {
  userId: string;
  body: unknown;
}

/** Delayed events fall due on multiples of this (or of the window, when shorter). */
const TICK_MS = 50;
/** Beyond this many remembered (member, room) pairs, those outside the window are forgotten. */
const REMEMBERED_MAX = 100_000;

export class UnreadCoalescer {
  private readonly lastSent = new Map<string, number>();
  /** Per (member, room) with an event waiting: the latest one. */
  private readonly pending = new Map<string, UnreadEvent>();
  /** Per due time: the pairs whose events go out then (one timer each). */
  private readonly due = new Map<number, string[]>();
  private readonly now: TurnBatch<UnreadEvent, void>;
  private readonly tickMs: number;

  constructor(
    private readonly windowMs: number,
    private readonly publish: (events: readonly UnreadEvent[]) => Promise<void>,
  ) {
    this.now = new TurnBatch(publish);
    this.tickMs = Math.max(1, Math.min(TICK_MS, windowMs));
  }

  /** Resolves once an event sent at once is published; undefined when it waits for its window (or replaces one that does). */
  send(userId: string, roomId: string, body: unknown): Promise<void> | undefined {
    const key = `${userId}:${roomId}`;
    const waiting = this.pending.get(key);
    if (waiting) return void (waiting.body = body);
    const now = Date.now();
    const last = this.lastSent.get(key);
    if (last === undefined || now - last >= this.windowMs) {
      if (last === undefined && this.lastSent.size >= REMEMBERED_MAX) this.forgetOld(now);
      this.lastSent.set(key, now);
      return this.now.join({ userId, body }).result;
    }
    this.pending.set(key, { userId, body });
    const at = Math.ceil((last + this.windowMs) / this.tickMs) * this.tickMs;
    const keys = this.due.get(at);
    if (keys) keys.push(key);
    else {
      this.due.set(at, [key]);
      setTimeout(() => this.fire(at), at - now).unref();
    }
    return undefined;
  }

  /** Pairs with an event waiting (bounded by the pairs sent to within a window). */
  get waiting(): number {
    return this.pending.size;
  }

  private fire(at: number): void {
    const keys = this.due.get(at) ?? [];
    this.due.delete(at);
    const now = Date.now();
    const events: UnreadEvent[] = [];
    for (const key of keys) {
      const event = this.pending.get(key);
      if (!event) continue;
      this.pending.delete(key);
      this.lastSent.set(key, now);
      events.push(event);
    }
    if (events.length > 0) void this.publish(events);
  }

  private forgetOld(now: number): void {
    for (const [key, at] of this.lastSent) if (now - at >= this.windowMs && !this.pending.has(key)) this.lastSent.delete(key);
  }
}
