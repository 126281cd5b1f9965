// A session's subscriptions: SUBSCRIBE / UNSUBSCRIBE / ACK / NACK, the per-subscriber MESSAGE encoding (only the
// subscription and ack headers differ from the room's prepared frame), revocation and catch-up. Every
// subscription joins the hub synchronously with its registration here, so a teardown at any await finds it.
import type { Frame, PreparedMessage, StompVersion } from '../../protocol/index.js';
import type { CatchUpDeps } from '../chat/catch-up.js';
import type { Membership } from '../chat/membership.js';
import type { ReplayBudget } from '../chat/replay-budget.js';
import type { ReadService } from '../chat/reads.js';
import type { AckPositions } from '../counters/ack-positions.js';
import { topics } from '../fanout/fanout.js';
import type { Hub, TopicSubscriber } from '../fanout/hub.js';
import type { LiveMessage } from '../fanout/live.js';
import { appError } from '../shared/errors.js';
import { isDecimalId, type SessionUser } from '../shared/model.js';
import { OPS_TOPIC, USER_QUEUE, parseDestination, roomEventsDestination } from './destinations.js';
import { catchUpSubscription, type ReplayHost } from './replay.js';
import type { Semaphore } from './semaphore.js';
import { RoomSubscription, TopicSubscription, type AckMode, type SubscriptionOwner } from './subscriptions.js';

export interface SubscriptionDeps {
  hub: Hub;
  membership: Pick<Membership, 'require'>;
  acks: AckPositions;
  reads: Pick<ReadService, 'views'>;
  catchUp: CatchUpDeps;
  lastBroadcastSeq(roomId: string): Promise<string | null>;
  userReplaySlots(userId: string): Semaphore;
  newReplaySlots(): Semaphore;
  /** Stored messages a user may have replayed per minute (since-seq and client-ack resumes; never the live path). */
  replayBudget: Pick<ReplayBudget, 'admit' | 'charge'>;
  limits: { maxSubscriptions: number; maxUnacked: number };
  /** The operations console's live feed (/topic/ops): administrators only. */
  ops: {
    isAdmin(user: Pick<SessionUser, 'email'>): boolean;
    monitor: { addSubscriber(sub: TopicSubscriber): void; removeSubscriber(sub: TopicSubscriber): void };
  };
}

/** What the set needs from its session. */
export interface SubscriptionHost {
  readonly user: SessionUser;
  readonly version: StompVersion;
  /** false once the connection is closed or closing. */
  active(): boolean;
  write(bytes: Buffer): void;
  receipt(frame: Frame, headers?: Record<string, string>): void;
  failFrame(err: unknown, frame: Frame): void;
  drained(): Promise<void>;
  warn(data: object, message: string): void;
  /** A catch-up ended (a finishing connection may close then). */
  ended(): void;
}

export class SubscriptionSet implements SubscriptionOwner {
  private readonly rooms = new Map<string, RoomSubscription>();
  private readonly topicSubs = new Map<string, TopicSubscription>();
  private replaySlots: Semaphore | null = null;

  constructor(
    private readonly host: SubscriptionHost,
    private readonly deps: SubscriptionDeps,
  ) {}

  async subscribe(frame: Frame): Promise<void> {
    const { user, version } = this.host;
    const destination = requireHeader(frame, 'destination');
    // STOMP 1.0 makes `id` optional: the destination then names the subscription (and UNSUBSCRIBE uses it).
    const id = frame.headers.id ?? (version === '1.0' ? destination : requireHeader(frame, 'id'));
    if (this.rooms.has(id) || this.topicSubs.has(id)) throw appError('bad-frame', `subscription id ${id} is in use`);
    if (this.rooms.size + this.topicSubs.size >= this.deps.limits.maxSubscriptions) {
      throw appError('bad-frame', `at most ${this.deps.limits.maxSubscriptions} subscriptions per connection`);
    }
    const ack = (frame.headers.ack ?? 'auto') as AckMode;
    if (ack !== 'auto' && ack !== 'client' && !(ack === 'client-individual' && version !== '1.0')) {
      throw appError('bad-frame', version === '1.0' ? 'ack must be auto or client' : 'ack must be auto, client or client-individual');
    }
    const dest = parseDestination(destination);
    if (dest?.kind === 'room') return this.subscribeRoom(frame, id, dest.roomId, ack);
    if (dest?.kind === 'ops') return this.subscribeOps(frame, id);
    if (dest?.kind !== 'room-events' && dest?.kind !== 'user-queue') throw appError('unknown-destination', `cannot SUBSCRIBE to ${destination}`);
    const roomId = dest.kind === 'room-events' ? dest.roomId : null;
    const topic = roomId === null ? topics.user(user.id) : topics.roomEvents(roomId);
    const sub = new TopicSubscription(id, topic, roomId === null ? USER_QUEUE : roomEventsDestination(roomId), roomId, user.id, this);
    // Registered before the check (a leave racing it is caught by the check or by the revocation), checked after.
    this.topicSubs.set(id, sub);
    const ready = this.deps.hub.addTopicSubscriber(topic, sub.destination, roomId, sub);
    try {
      if (roomId !== null) await this.deps.membership.require(roomId, user.id);
      await ready;
    } catch (err) {
      this.dropTopic(sub);
      throw err;
    }
    this.host.receipt(frame);
  }

  /** /topic/ops: the overview every OPS_STATS_INTERVAL_MS, from this instance's monitor (not the bus). */
  private subscribeOps(frame: Frame, id: string): void {
    if (!this.deps.ops.isAdmin(this.host.user)) throw appError('forbidden', `${OPS_TOPIC} is for administrators`);
    const sub = new TopicSubscription(id, OPS_TOPIC, OPS_TOPIC, null, this.host.user.id, this);
    this.topicSubs.set(id, sub);
    this.host.receipt(frame);
    this.deps.ops.monitor.addSubscriber(sub);
  }

  /**
   * The subscription joins the hub at once, buffering; it goes live only after the membership check (so a leave
   * racing the SUBSCRIBE is caught either by the check or by the hub's revocation). With `since-seq` (or a
   * client-ack resume point) the store first delivers what was missed, then the buffer, with no gap and no
   * duplicate at the seam; the RECEIPT comes after the replay and says where it ended.
   */
  private async subscribeRoom(frame: Frame, id: string, roomId: string, ack: AckMode): Promise<void> {
    const user = this.host.user;
    let since = frame.headers['since-seq'];
    if (since !== undefined && !isDecimalId(since)) throw appError('bad-frame', 'since-seq must be a decimal seq within 64-bit range');
    const sub = new RoomSubscription(id, roomId, user.id, ack, this.deps.limits.maxUnacked, this);
    this.rooms.set(id, sub);
    const ready = this.deps.hub.addRoomSubscriber(roomId, sub);
    try {
      const [, resumeAt] = await Promise.all([
        this.deps.membership.require(roomId, user.id),
        // A client-ack subscriber that acknowledged before resumes after its last acknowledged message.
        since === undefined && ack !== 'auto' ? this.deps.acks.get(user.id, roomId).catch(() => null) : null,
        ready,
      ]);
      since ??= resumeAt ?? undefined;
    } catch (err) {
      this.dropRoom(sub);
      throw err;
    }
    if (sub.closed || !this.host.active()) return;
    if (since === undefined) {
      sub.goLive();
      return this.host.receipt(frame);
    }
    sub.lastSeq = BigInt(since);
    const high = BigInt((await this.deps.lastBroadcastSeq(roomId).catch(() => null)) ?? '0');
    // The replay runs beside the frame chain: the connection's next frames are not held up by it.
    this.catchUp(sub, high, frame);
  }

  unsubscribe(frame: Frame): void {
    // STOMP 1.0 may unsubscribe by destination.
    const id = frame.headers.id ?? (this.host.version === '1.0' ? frame.headers.destination : undefined);
    if (id === undefined) throw appError('bad-frame', 'UNSUBSCRIBE needs an id header');
    const room = this.rooms.get(id);
    if (room) this.dropRoom(room);
    const topic = this.topicSubs.get(id);
    if (topic) this.dropTopic(topic);
    this.host.receipt(frame);
  }

  /** ACK / NACK. A NACKed message stays unacknowledged: it is redelivered when the client resumes. */
  async ack(frame: Frame): Promise<void> {
    const version = this.host.version;
    if (frame.command === 'NACK' && version === '1.0') throw appError('bad-frame', 'NACK is not part of STOMP 1.0');
    // 1.2: `id` (our `ack` header); 1.0 and 1.1: `message-id`.
    const ackId = version === '1.2' ? frame.headers.id : frame.headers['message-id'];
    if (ackId === undefined) throw appError('bad-frame', `${frame.command} needs ${version === '1.2' ? 'an id' : 'a message-id'} header`);
    if (frame.command === 'ACK') {
      for (const sub of this.rooms.values()) {
        if (sub.ack === 'auto' || !sub.acknowledge(ackId)) continue;
        await this.deps.acks.advance(this.host.user.id, sub.roomId, sub.watermark().toString());
        break;
      }
    }
    this.host.receipt(frame);
  }

  /** true while any subscription is catching up from the store. */
  get catchingUp(): boolean {
    for (const s of this.rooms.values()) if (s.catchingUp) return true;
    return false;
  }

  /** Teardown: every subscription leaves the hub. */
  closeAll(): void {
    for (const sub of this.rooms.values()) {
      sub.close();
      this.deps.hub.removeRoomSubscriber(sub.roomId, sub);
    }
    for (const sub of this.topicSubs.values()) this.leaveTopic(sub);
    this.rooms.clear();
    this.topicSubs.clear();
  }

  // --- SubscriptionOwner ----------------------------------------------------------------------------

  deliver(sub: RoomSubscription, message: LiveMessage): void {
    const v = this.host.version;
    if (sub.ack === 'auto') this.host.write(v === '1.2' ? message.frame.frameFor(sub.id) : message.frame.frameFor(sub.id, { version: v }));
    // 1.2 acknowledges by the `ack` header; 1.0 and 1.1 by message-id.
    else this.host.write(message.frame.frameFor(sub.id, v === '1.2' ? { ack: message.view.id } : { version: v }));
  }

  deliverEvent(sub: TopicSubscription, frame: PreparedMessage): void {
    const v = this.host.version;
    this.host.write(v === '1.2' ? frame.frameFor(sub.id) : frame.frameFor(sub.id, { version: v }));
  }

  catchUpLater(sub: RoomSubscription): void {
    // Messages a live subscription has not received yet: live delivery by the store, not a replay (not charged).
    if (this.host.active()) this.catchUp(sub, null);
  }

  revoked(sub: RoomSubscription | TopicSubscription): void {
    if (sub instanceof RoomSubscription) {
      if (this.rooms.get(sub.id) === sub) this.rooms.delete(sub.id);
    } else if (this.topicSubs.get(sub.id) === sub) this.topicSubs.delete(sub.id);
  }

  // --- internals ------------------------------------------------------------------------------------

  /** A catch-up; one a SUBSCRIBE asked for (`receiptFor`: since-seq or a client-ack resume) is a replay, charged. */
  private catchUp(sub: RoomSubscription, target: bigint | null, receiptFor?: Frame): void {
    void catchUpSubscription(this.replayHost(sub.userId, receiptFor !== undefined), sub, target, receiptFor);
  }

  private replayHost(userId: string, charged: boolean): ReplayHost {
    const host = this.host;
    const budget = this.deps.replayBudget;
    return {
      budget: charged ? { admit: () => budget.admit(userId), charge: (n) => budget.charge(userId, n) } : null,
      active: () => host.active(),
      catchUp: this.deps.catchUp,
      views: (roomId, messages) => this.deps.reads.views(roomId, messages),
      hubLastSeq: (roomId) => this.deps.hub.lastSeq(roomId),
      drained: () => host.drained(),
      connectionSlots: (this.replaySlots ??= this.deps.newReplaySlots()),
      userSlots: this.deps.userReplaySlots(userId),
      receipt: (frame, headers) => host.receipt(frame, headers),
      failFrame: (err, frame) => host.failFrame(err, frame),
      warn: (data, message) => host.warn(data, message),
      ended: () => host.ended(),
    };
  }

  private dropRoom(sub: RoomSubscription): void {
    if (this.rooms.get(sub.id) === sub) this.rooms.delete(sub.id);
    sub.close();
    this.deps.hub.removeRoomSubscriber(sub.roomId, sub);
  }

  private dropTopic(sub: TopicSubscription): void {
    if (this.topicSubs.get(sub.id) === sub) this.topicSubs.delete(sub.id);
    this.leaveTopic(sub);
  }

  private leaveTopic(sub: TopicSubscription): void {
    if (sub.topic === OPS_TOPIC) this.deps.ops.monitor.removeSubscriber(sub);
    else this.deps.hub.removeTopicSubscriber(sub.topic, sub);
  }
}

export function requireHeader(frame: Frame, name: string): string {
  const v = frame.headers[name];
  if (v === undefined || v === '') throw appError('bad-frame', `${frame.command} needs a ${name} header`);
  return v;
}
