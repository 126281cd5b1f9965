// Local subscriptions of this instance: one bus subscription per room/channel, a room's MESSAGE
// encoded once and handed to every local subscriber, per-room seq gap detection and repair.
import type { Logger } from 'pino';
import { PreparedMessage } from '../../protocol/index.js';
import type { ChatMessage, MessageView } from '../chat/model.js';
import { toView } from '../chat/model.js';
import type { Metrics } from '../metrics/metrics.js';
import type { FanoutBus } from './fanout.js';
import { channels } from './fanout.js';

/** A room message ready for the wire: encode once, `frame.frameFor(subscriptionId)` per subscriber. */
export interface LiveMessage {
  seq: bigint;
  view: MessageView;
  frame: PreparedMessage;
}

export interface RoomSubscriber {
  /** Called in seq order for a room, at most once per seq per hub. */
  push(message: LiveMessage): void;
}

export interface TopicSubscriber {
  /** An event for the channel: event type and JSON body, shared by every subscriber. */
  pushEvent(eventType: string, body: Buffer): void;
}

/** What the broadcast consumer publishes on a room channel. */
export interface RoomWireMessage {
  /** The seq broadcast before this one in the room ('0' when unknown). */
  prevSeq: string;
  message: MessageView;
}

export interface EventWireMessage {
  eventType: string;
  body: unknown;
}

export function roomDestination(roomId: string): string {
  return `/topic/rooms.${roomId}`;
}

/** Encodes a room message once; only the subscription header differs between subscribers. */
export function prepareLive(view: MessageView): LiveMessage {
  const frame = new PreparedMessage(
    {
      'message-id': view.id,
      destination: roomDestination(view.roomId),
      'content-type': 'application/json',
      seq: view.seq,
      'room-id': view.roomId,
      'sender-id': view.senderId,
      'message-type': view.type,
      'created-at': view.createdAt,
    },
    Buffer.from(JSON.stringify(view)),
  );
  return { seq: BigInt(view.seq), view, frame };
}

export interface HubDeps {
  bus: FanoutBus;
  /** Reads stored messages of a room with seq > afterSeq, oldest first (gap repair). */
  messagesAfter(roomId: string, afterSeq: string, limit: number): Promise<ChatMessage[]>;
  /** Current per-message unread count for repaired messages. */
  unreadFor(roomId: string, messages: readonly ChatMessage[]): Promise<number[]>;
  log: Logger;
  metrics: Metrics;
  /** How long a gap repair waits for the persist consumer to store the missing seqs. */
  gapWaitMs?: number;
}

interface RoomState {
  subscribers: Set<RoomSubscriber>;
  lastSeq: bigint | null;
  chain: Promise<void>;
  ready: Promise<void>;
}

interface TopicState {
  subscribers: Set<TopicSubscriber>;
  ready: Promise<void>;
}

export class Hub {
  private readonly rooms = new Map<string, RoomState>();
  private readonly topics = new Map<string, TopicState>();

  constructor(private readonly deps: HubDeps) {}

  /** Resolves once live messages of the room reach `sub` (the bus subscription is active). */
  async addRoomSubscriber(roomId: string, sub: RoomSubscriber): Promise<void> {
    let state = this.rooms.get(roomId);
    if (!state) {
      const s: RoomState = { subscribers: new Set(), lastSeq: null, chain: Promise.resolve(), ready: Promise.resolve() };
      s.ready = this.deps.bus.subscribe(channels.room(roomId), (payload) => this.onRoomPayload(roomId, s, payload));
      this.rooms.set(roomId, s);
      state = s;
      s.ready.catch(() => {
        if (this.rooms.get(roomId) === s) this.rooms.delete(roomId);
      });
    }
    state.subscribers.add(sub);
    await state.ready;
  }

  removeRoomSubscriber(roomId: string, sub: RoomSubscriber): void {
    const state = this.rooms.get(roomId);
    if (!state) return;
    state.subscribers.delete(sub);
    if (state.subscribers.size === 0) {
      this.rooms.delete(roomId);
      this.deps.bus.unsubscribe(channels.room(roomId)).catch(() => {});
    }
  }

  async addTopicSubscriber(channel: string, sub: TopicSubscriber): Promise<void> {
    let state = this.topics.get(channel);
    if (!state) {
      const s: TopicState = { subscribers: new Set(), ready: Promise.resolve() };
      s.ready = this.deps.bus.subscribe(channel, (payload) => this.onTopicPayload(s, payload));
      this.topics.set(channel, s);
      state = s;
      s.ready.catch(() => {
        if (this.topics.get(channel) === s) this.topics.delete(channel);
      });
    }
    state.subscribers.add(sub);
    await state.ready;
  }

  removeTopicSubscriber(channel: string, sub: TopicSubscriber): void {
    const state = this.topics.get(channel);
    if (!state) return;
    state.subscribers.delete(sub);
    if (state.subscribers.size === 0) {
      this.topics.delete(channel);
      this.deps.bus.unsubscribe(channel).catch(() => {});
    }
  }

  get roomCount(): number {
    return this.rooms.size;
  }

  private onTopicPayload(state: TopicState, payload: string): void {
    let parsed: EventWireMessage;
    try {
      parsed = JSON.parse(payload) as EventWireMessage;
    } catch {
      this.deps.log.warn('malformed event on the fan-out bus');
      return;
    }
    const body = Buffer.from(JSON.stringify(parsed.body));
    for (const sub of state.subscribers) sub.pushEvent(parsed.eventType, body);
  }

  private onRoomPayload(roomId: string, state: RoomState, payload: string): void {
    let wire: RoomWireMessage;
    try {
      wire = JSON.parse(payload) as RoomWireMessage;
    } catch {
      this.deps.log.warn({ roomId }, 'malformed room message on the fan-out bus');
      return;
    }
    // Per room, strictly one message at a time: a gap repair must finish before later messages go out.
    state.chain = state.chain
      .then(() => this.deliver(roomId, state, wire))
      .catch((err: unknown) => this.deps.log.error({ err, roomId }, 'room delivery failed'));
  }

  private async deliver(roomId: string, state: RoomState, wire: RoomWireMessage): Promise<void> {
    const seq = BigInt(wire.message.seq);
    if (state.lastSeq !== null && seq <= state.lastSeq) return; // redelivered by the broadcast consumer
    const prev = BigInt(wire.prevSeq || '0');
    if (state.lastSeq !== null && prev > state.lastSeq && prev < seq) {
      await this.repair(roomId, state, prev);
    }
    this.emit(state, prepareLive(wire.message));
  }

  private emit(state: RoomState, live: LiveMessage): void {
    state.lastSeq = live.seq;
    const age = (Date.now() - Date.parse(live.view.createdAt)) / 1000;
    if (age >= 0) this.deps.metrics.e2eLatency.observe(age);
    for (const sub of state.subscribers) sub.push(live);
  }

  /** Delivers stored messages in (state.lastSeq, upTo] that the bus lost, waiting for the persist consumer if needed. */
  private async repair(roomId: string, state: RoomState, upTo: bigint): Promise<void> {
    const deadline = Date.now() + (this.deps.gapWaitMs ?? 5000);
    this.deps.log.warn({ roomId, from: state.lastSeq?.toString(), upTo: upTo.toString() }, 'fan-out gap detected');
    while (state.lastSeq !== null && state.lastSeq < upTo) {
      const batch = await this.deps.messagesAfter(roomId, state.lastSeq.toString(), 200);
      const missing = batch.filter((m) => BigInt(m.seq) <= upTo);
      if (missing.length > 0) {
        const unread = await this.deps.unreadFor(roomId, missing);
        missing.forEach((m, i) => this.emit(state, prepareLive(toView(m, unread[i] ?? 0))));
        this.deps.metrics.gapRepairs.inc(missing.length);
        continue;
      }
      if (Date.now() > deadline) {
        this.deps.log.error({ roomId, upTo: upTo.toString() }, 'fan-out gap not repaired in time; clients can catch up with since-seq');
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
