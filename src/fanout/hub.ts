// This instance's local subscriptions: one bus subscription per room or topic however many local subscribers;
// a room's MESSAGE encoded once and handed to every subscriber; per-room seq gap detection and repair from the
// store; membership changes acted on at once (a leaver's subscriptions end on every instance).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { PreparedMessage } from '../../protocol/index.js';
import type { Metrics } from '../metrics/metrics.js';
import { dropFailure, type CountDropped } from '../shared/dropped.js';
import type { ChatMessage, MessageView } from '../shared/model.js';
import type { BusEvent, FanoutBus, MembershipChange, PresenceChange, RoomBatch } from './fanout.js';
import { topics } from './fanout.js';
import { prepareLive, type LiveMessage } from './live.js';

export interface RoomSubscriber {
  readonly userId: string;
  /** Called in seq order for a room, at most once per seq per hub. */
  push(message: LiveMessage): void;
  /** The user lost access to the room: the subscriber ends (the hub has already dropped it). */
  revoke(roomId: string): void;
}

export interface TopicSubscriber {
  readonly userId: string;
  /** An event of the topic, encoded once for every subscriber (only `subscription` differs). */
  pushEvent(frame: PreparedMessage): void;
  /** For room `.events` subscribers: the user lost access to the room. */
  revoke?(roomId: string): void;
}

export interface HubDeps {
  bus: FanoutBus;
  /** Stored messages after a seq, waiting for the store to reach `upTo` (gap repair; see chat/catch-up.ts). */
  repair(roomId: string, after: bigint, upTo: bigint, deliver: (page: ChatMessage[]) => Promise<bigint>): Promise<{ complete: boolean }>;
  /** The API's message JSON of stored messages (current unread counts). */
  views(roomId: string, messages: readonly ChatMessage[]): Promise<MessageView[]>;
  /** Membership of many (room, user) pairs: the periodic re-check of live subscriptions. */
  areMembers(pairs: ReadonlyArray<{ roomId: string; userId: string }>): Promise<boolean[]>;
  /**
   * A user lost access to a room: `event` when a membership event said so (the leave itself told the user), `recheck`
   * when the periodic re-check found it (the event was lost: tell them now).
   */
  onRevoked?(roomId: string, userId: string, found: 'event' | 'recheck'): void;
  log: Logger;
  metrics: Metrics;
  /** How often live subscriptions are re-checked against the store (membership events are at most once). */
  recheckMs?: number;
}

interface RoomState {
  roomId: string;
  subscribers: Set<RoomSubscriber>;
  /** Highest seq emitted to local subscribers. */
  lastSeq: bigint | null;
  chain: Promise<void>;
  ready: Promise<void>;
}

interface TopicState {
  destination: string;
  /** The room of a `.events` topic (presence and revocation find it by room). */
  roomId: string | null;
  subscribers: Set<TopicSubscriber>;
  ready: Promise<void>;
}

export class Hub {
  private readonly rooms = new Map<string, RoomState>();
  private readonly topics = new Map<string, TopicState>();
  private recheckTimer: NodeJS.Timeout | null = null;

  private readonly countDropped: CountDropped = (what) => this.deps.metrics.failuresDropped.inc({ what });

  constructor(private readonly deps: HubDeps) {}

  /**
   * Starts the periodic re-check of live subscriptions against the store. Membership and presence changes of every
   * instance reach the hub through onMembership / onPresence (the process's control listener calls them).
   */
  start(): void {
    this.recheckTimer = setInterval(() => void this.recheck(), this.deps.recheckMs ?? 5000);
    this.recheckTimer.unref();
    this.deps.bus.onResubscribed?.(() => void this.repairAfterOutage());
  }

  close(): void {
    if (this.recheckTimer) clearInterval(this.recheckTimer);
  }

  // --- rooms ------------------------------------------------------------------------------------

  /**
   * Adds `sub` at once (synchronously: a teardown right after must find it) and resolves once live messages of
   * the room reach it (the bus subscription is active).
   */
  addRoomSubscriber(roomId: string, sub: RoomSubscriber): Promise<void> {
    return attach(this.rooms, roomId, sub, () => {
      const s: RoomState = { roomId, subscribers: new Set(), lastSeq: null, chain: Promise.resolve(), ready: Promise.resolve() };
      s.ready = this.deps.bus.subscribeRoom(roomId, (batch) => this.onBatch(s, batch));
      return s;
    });
  }

  removeRoomSubscriber(roomId: string, sub: RoomSubscriber): void {
    detach(this.rooms, roomId, sub, () => this.deps.bus.unsubscribeRoom(roomId), this.countDropped);
  }

  /** The highest seq this hub delivered for the room (null: none since its subscription started). */
  lastSeq(roomId: string): bigint | null {
    return this.rooms.get(roomId)?.lastSeq ?? null;
  }

  private onBatch(state: RoomState, batch: RoomBatch): void {
    if (this.rooms.get(state.roomId) !== state) return;
    // Per room, strictly one batch at a time: a gap repair finishes before later messages go out.
    state.chain = state.chain
      .then(() => this.deliverBatch(state, batch))
      .catch((err: unknown) => this.deps.log.error({ err, roomId: state.roomId }, 'room delivery failed'));
  }

  private async deliverBatch(state: RoomState, batch: RoomBatch): Promise<void> {
    const prev = BigInt(batch.prevSeq);
    if (state.lastSeq !== null && prev > state.lastSeq) await this.repair(state, prev);
    const fresh: LiveMessage[] = [];
    for (const view of batch.messages) {
      const seq = BigInt(view.seq);
      if (state.lastSeq === null || seq > state.lastSeq) fresh.push(prepareLive(view));
    }
    this.emit(state, fresh);
  }

  private emit(state: RoomState, messages: readonly LiveMessage[]): void {
    if (messages.length === 0) return;
    const now = Date.now();
    for (const live of messages) {
      state.lastSeq = live.seq;
      const age = (now - Date.parse(live.view.createdAt)) / 1000;
      if (age >= 0) this.deps.metrics.e2eLatency.observe(age);
      for (const sub of state.subscribers) sub.push(live);
    }
    this.deps.metrics.messagesDelivered.inc(messages.length * state.subscribers.size);
  }

  /**
   * The bus was down for this process: every room that already delivered something repairs up to the room's last
   * broadcast seq now, instead of at its next message (a quiet room would otherwise keep the gap until then).
   */
  private async repairAfterOutage(): Promise<void> {
    const states = [...this.rooms.values()].filter((s) => s.lastSeq !== null);
    this.deps.log.info({ rooms: states.length }, 'fan-out subscriptions back: repairing what the outage lost');
    await Promise.all(
      states.map(async (state) => {
        const high = await this.deps.bus.lastBroadcastSeq(state.roomId).catch(() => null);
        if (high !== null) this.onBatch(state, { roomId: state.roomId, prevSeq: high, messages: [] });
      }),
    );
  }

  /** Delivers stored messages in (lastSeq, upTo] that the bus lost, waiting for the persist consumer if needed. */
  private async repair(state: RoomState, upTo: bigint): Promise<void> {
    const from = state.lastSeq!;
    this.deps.log.warn({ roomId: state.roomId, from: from.toString(), upTo: upTo.toString() }, 'fan-out gap detected');
    const result = await this.deps.repair(state.roomId, from, upTo, async (page) => {
      const views = await this.deps.views(state.roomId, page);
      const fresh = views.filter((v) => state.lastSeq === null || BigInt(v.seq) > state.lastSeq).map(prepareLive);
      this.emit(state, fresh);
      this.deps.metrics.gapRepairs.inc(fresh.length);
      return state.lastSeq ?? from;
    });
    if (!result.complete) {
      this.deps.log.error({ roomId: state.roomId, upTo: upTo.toString() }, 'fan-out gap not repaired in time; clients can catch up with since-seq');
    }
  }

  // --- topics (room events, user queues) -----------------------------------------------------------

  addTopicSubscriber(topic: string, destination: string, roomId: string | null, sub: TopicSubscriber): Promise<void> {
    return attach(this.topics, topic, sub, () => {
      const s: TopicState = { destination, roomId, subscribers: new Set(), ready: Promise.resolve() };
      s.ready = this.deps.bus.subscribeTopic(topic, (event) => this.onEvent(s, event));
      return s;
    });
  }

  removeTopicSubscriber(topic: string, sub: TopicSubscriber): void {
    detach(this.topics, topic, sub, () => this.deps.bus.unsubscribeTopic(topic), this.countDropped);
  }

  private onEvent(state: TopicState, event: BusEvent): void {
    if (state.subscribers.size === 0) return;
    const frame = eventFrame(state.destination, event.eventType, event.body);
    for (const sub of state.subscribers) sub.pushEvent(frame);
  }

  // --- control --------------------------------------------------------------------------------------

  onPresence(change: PresenceChange): void {
    const body = { userId: change.userId, status: change.status, lastSeenAt: change.lastSeenAt };
    for (const roomId of change.roomIds) {
      const state = this.topics.get(topics.roomEvents(roomId));
      if (state) this.onEvent(state, { eventType: 'presence', body });
    }
  }

  onMembership(change: MembershipChange): void {
    if (change.change === 'left') this.revoke(change.roomId, change.userId, 'event');
  }

  /** Ends every local subscription of `userId` to the room and to its events. */
  private revoke(roomId: string, userId: string, found: 'event' | 'recheck'): void {
    let revoked = 0;
    const room = this.rooms.get(roomId);
    for (const sub of room ? [...room.subscribers] : []) {
      if (sub.userId !== userId) continue;
      this.removeRoomSubscriber(roomId, sub);
      sub.revoke(roomId);
      revoked++;
    }
    const topic = topics.roomEvents(roomId);
    const events = this.topics.get(topic);
    for (const sub of events ? [...events.subscribers] : []) {
      if (sub.userId !== userId) continue;
      this.removeTopicSubscriber(topic, sub);
      sub.revoke?.(roomId);
      revoked++;
    }
    if (revoked > 0) {
      this.deps.log.info({ roomId, userId, revoked }, 'subscriptions revoked: the user left the room');
      this.deps.onRevoked?.(roomId, userId, found);
    }
  }

  /** Every few seconds: membership events are at most once, so live subscriptions are checked against the store. */
  private async recheck(): Promise<void> {
    const pairs = new Map<string, { roomId: string; userId: string }>();
    for (const [roomId, state] of this.rooms) for (const s of state.subscribers) pairs.set(`${roomId}:${s.userId}`, { roomId, userId: s.userId });
    for (const state of this.topics.values()) {
      if (state.roomId === null) continue;
      for (const s of state.subscribers) pairs.set(`${state.roomId}:${s.userId}`, { roomId: state.roomId, userId: s.userId });
    }
    if (pairs.size === 0) return;
    const list = [...pairs.values()];
    try {
      for (let i = 0; i < list.length; i += 5000) {
        const chunk = list.slice(i, i + 5000);
        const answers = await this.deps.areMembers(chunk);
        chunk.forEach((p, k) => answers[k] === false && this.revoke(p.roomId, p.userId, 'recheck'));
      }
    } catch (err) {
      this.deps.log.warn({ err }, 'membership re-check failed; retrying later');
    }
  }
}

interface Subscribed<S> {
  subscribers: Set<S>;
  ready: Promise<void>;
}

/**
 * Adds `sub` under `key` at once (a teardown right after must find it), creating the key's state — and its bus
 * subscription — for the first subscriber; resolves once the bus subscription is active. A failed subscription
 * forgets the state, so the next subscriber tries again.
 */
function attach<S, T extends Subscribed<S>>(map: Map<string, T>, key: string, sub: S, create: () => T): Promise<void> {
  let state = map.get(key);
  if (!state) {
    const s = create();
    // Not a dropped failure: the caller gets the rejection from the promise returned below.
    s.ready.catch(() => {
      if (map.get(key) === s) map.delete(key);
    });
    map.set(key, s);
    state = s;
  }
  state.subscribers.add(sub);
  return state.ready;
}

/** Removes `sub`; the last subscriber of a key ends its bus subscription. */
function detach<S, T extends Subscribed<S>>(map: Map<string, T>, key: string, sub: S, unsubscribe: () => Promise<void>, count: CountDropped): void {
  const state = map.get(key);
  if (!state || !state.subscribers.delete(sub)) return;
  if (state.subscribers.size === 0) {
    map.delete(key);
    void dropFailure(unsubscribe(), 'bus-unsubscribe', count);
  }
}

function eventFrame(destination: string, eventType: string, body: unknown): PreparedMessage {
  return new PreparedMessage(
    { 'message-id': randomUUID(), destination, 'content-type': 'application/json', 'event-type': eventType },
    Buffer.from(JSON.stringify(body ?? null)),
  );
}
