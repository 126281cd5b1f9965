// A session's subscriptions. A room subscription is either live (the hub's messages go straight out) or
// buffering (while its SUBSCRIBE is checked, while it catches up from the store, or while its ack window is
// full); a bounded buffer that overflows is dropped and the store catches the subscription up instead.
import type { PreparedMessage } from '../../protocol/index.js';
import type { RoomSubscriber, TopicSubscriber } from '../fanout/hub.js';
import type { LiveMessage } from '../fanout/live.js';

export type AckMode = 'auto' | 'client' | 'client-individual';

/** Live messages kept while a subscription is not live; beyond this the store catches it up. */
const MAX_BUFFER = 1000;

export interface SubscriptionOwner {
  deliver(sub: RoomSubscription, message: LiveMessage): void;
  /** The subscription fell behind (buffer overflow, ack window full): catch it up from the store. */
  catchUpLater(sub: RoomSubscription): void;
  deliverEvent(sub: TopicSubscription, frame: PreparedMessage): void;
  /** The hub dropped the subscription (its user left the room). */
  revoked(sub: RoomSubscription | TopicSubscription): void;
}

export class RoomSubscription implements RoomSubscriber {
  /** Highest seq written to the client; later copies are dropped. */
  lastSeq = -1n;
  closed = false;
  /** A catch-up task runs for this subscription. */
  catchingUp = false;
  private live = false;
  private buffer: LiveMessage[] = [];
  private overflowed = false;
  /** client / client-individual: ack id -> seq of MESSAGEs not yet acknowledged, in seq order. */
  readonly unacked = new Map<string, bigint>();
  private windowWaiter: (() => void) | null = null;

  constructor(
    readonly id: string,
    readonly roomId: string,
    readonly userId: string,
    readonly ack: AckMode,
    private readonly maxUnacked: number,
    private readonly owner: SubscriptionOwner,
  ) {}

  push(message: LiveMessage): void {
    if (this.closed) return;
    if (!this.live) {
      if (this.overflowed) return;
      if (this.buffer.length >= MAX_BUFFER) {
        this.overflowed = true;
        this.buffer = [];
      } else this.buffer.push(message);
      return;
    }
    if (this.windowFull()) {
      // Stop live delivery; the store delivers the rest once the client acknowledges.
      this.live = false;
      this.overflowed = true;
      this.owner.catchUpLater(this);
      return;
    }
    this.write(message);
  }

  /** Writes one message unless it was already written. */
  write(message: LiveMessage): void {
    if (this.closed || message.seq <= this.lastSeq) return;
    this.lastSeq = message.seq;
    if (this.ack !== 'auto') this.unacked.set(message.view.id, message.seq);
    this.owner.deliver(this, message);
  }

  /**
   * Switches to live: writes the buffered messages. false when the buffer overflowed meanwhile (the caller
   * catches up from the store again, then retries).
   */
  goLive(): boolean {
    if (this.overflowed) {
      this.overflowed = false;
      this.buffer = [];
      return false;
    }
    const buffered = this.buffer;
    this.buffer = [];
    this.live = true;
    for (let i = 0; i < buffered.length; i++) {
      if (this.windowFull()) {
        this.live = false;
        this.overflowed = true;
        this.owner.catchUpLater(this);
        return true;
      }
      this.write(buffered[i]!);
    }
    return true;
  }

  revoke(): void {
    this.close();
    this.owner.revoked(this);
  }

  close(): void {
    this.closed = true;
    this.buffer = [];
    this.releaseWindow();
  }

  private windowFull(): boolean {
    return this.ack !== 'auto' && this.unacked.size >= this.maxUnacked;
  }

  /** Resolves once another MESSAGE may be written under the ack window (at once for ack:auto). */
  windowOpen(): Promise<void> {
    if (!this.windowFull() || this.closed) return Promise.resolve();
    return new Promise((resolve) => (this.windowWaiter = resolve));
  }

  private releaseWindow(): void {
    const w = this.windowWaiter;
    this.windowWaiter = null;
    w?.();
  }

  /**
   * ACK of `ackId`: `client` acknowledges it and everything before it, `client-individual` only it. false when
   * the id is not an unacknowledged MESSAGE of this subscription.
   */
  acknowledge(ackId: string): boolean {
    const seq = this.unacked.get(ackId);
    if (seq === undefined) return false;
    if (this.ack === 'client') {
      // Insertion order is seq order: delete from the front up to this one.
      for (const [id, s] of this.unacked) {
        if (s > seq) break;
        this.unacked.delete(id);
      }
    } else this.unacked.delete(ackId);
    if (!this.windowFull()) this.releaseWindow();
    return true;
  }

  has(ackId: string): boolean {
    return this.unacked.has(ackId);
  }

  /** Resume point: just below the oldest unacknowledged MESSAGE, or the last written one. */
  watermark(): bigint {
    for (const s of this.unacked.values()) return s - 1n;
    return this.lastSeq;
  }
}

export class TopicSubscription implements TopicSubscriber {
  constructor(
    readonly id: string,
    readonly topic: string,
    readonly destination: string,
    /** The room of a `.events` subscription (null for the user queue). */
    readonly roomId: string | null,
    readonly userId: string,
    private readonly owner: SubscriptionOwner,
  ) {}

  pushEvent(frame: PreparedMessage): void {
    this.owner.deliverEvent(this, frame);
  }

  revoke(): void {
    this.owner.revoked(this);
  }
}
