// The fan-out bus inside one process (embedded mode and unit tests): the same contract as Redis Pub/Sub,
// delivering asynchronously (a microtask later, like a network hop) and in publish order.
import type { MessageView } from '../shared/model.js';
import type { BusEvent, ControlHandlers, FanoutBus, MembershipChange, PresenceChange, RoomBatch, RoomPublish, TopicEvent } from './fanout.js';

export class MemoryFanoutBus implements FanoutBus {
  private readonly rooms = new Map<string, (batch: RoomBatch) => void>();
  private readonly topics = new Map<string, (event: BusEvent) => void>();
  private readonly lastSeq = new Map<string, string>();
  private control: ControlHandlers | null = null;

  async publishRoom(roomId: string, messages: readonly MessageView[]): Promise<void> {
    const prev = this.lastSeq.get(roomId) ?? null;
    // Atomic by construction (one thread): drop what was already published, record the last, publish.
    const fresh = prev === null ? [...messages] : messages.filter((m) => BigInt(m.seq) > BigInt(prev));
    if (fresh.length === 0) return;
    this.lastSeq.set(roomId, fresh[fresh.length - 1]!.seq);
    const batch: RoomBatch = { roomId, prevSeq: prev ?? '0', messages: fresh };
    queueMicrotask(() => this.rooms.get(roomId)?.(batch));
  }

  async publishRooms(rooms: readonly RoomPublish[]): Promise<void> {
    for (const r of rooms) await this.publishRoom(r.roomId, r.messages);
  }

  async lastBroadcastSeq(roomId: string): Promise<string | null> {
    return this.lastSeq.get(roomId) ?? null;
  }

  async subscribeRoom(roomId: string, onBatch: (batch: RoomBatch) => void): Promise<void> {
    this.rooms.set(roomId, onBatch);
  }

  async unsubscribeRoom(roomId: string): Promise<void> {
    this.rooms.delete(roomId);
  }

  async publishEvent(topic: string, event: BusEvent): Promise<void> {
    queueMicrotask(() => this.topics.get(topic)?.(event));
  }

  async publishEvents(events: readonly TopicEvent[]): Promise<void> {
    for (const { topic, event } of events) await this.publishEvent(topic, event);
  }

  async subscribeTopic(topic: string, onEvent: (event: BusEvent) => void): Promise<void> {
    this.topics.set(topic, onEvent);
  }

  async unsubscribeTopic(topic: string): Promise<void> {
    this.topics.delete(topic);
  }

  async publishMembership(change: MembershipChange): Promise<void> {
    queueMicrotask(() => this.control?.membership(change));
  }

  async publishPresence(change: PresenceChange): Promise<void> {
    queueMicrotask(() => this.control?.presence(change));
  }

  async listenControl(handlers: ControlHandlers): Promise<void> {
    this.control = handlers;
  }

  async close(): Promise<void> {
    this.rooms.clear();
    this.topics.clear();
    this.control = null;
  }
}
