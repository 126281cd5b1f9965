// The fan-out bus port: carries live traffic from the process that produced it to every gateway instance.
import type { MessageView, UserStatus } from '../shared/model.js';

/** One room's messages published together, in seq order, chained to the room's previous publish. */
export interface RoomBatch {
  roomId: string;
  /** The highest seq published for the room before this batch ('0' when none is known). */
  prevSeq: string;
  messages: MessageView[];
}

/** An ephemeral event for a room's `.events` topic or a user's notification queue. */
export interface BusEvent {
  eventType: string;
  body: unknown;
}

/** Membership changed (REST join/leave): every gateway acts on it at once (a leaver's subscriptions end). */
export interface MembershipChange {
  roomId: string;
  userId: string;
  change: 'joined' | 'left';
}

/** A user went online or offline: one event for all of the user's rooms (not one publish per room). */
export interface PresenceChange {
  userId: string;
  status: UserStatus;
  lastSeenAt: string;
  roomIds: string[];
}

export interface ControlHandlers {
  membership(change: MembershipChange): void;
  presence(change: PresenceChange): void;
}

/** Logical topic names of ephemeral events (adapters map them to their own channel names). */
export const topics = {
  roomEvents: (roomId: string) => `room-events:${roomId}`,
  user: (userId: string) => `user:${userId}`,
};

/** One room's part of a `publishRooms` call. */
export interface RoomPublish {
  roomId: string;
  messages: readonly MessageView[];
}

/** One event of a `publishEvents` call. */
export interface TopicEvent {
  topic: string;
  event: BusEvent;
}

/**
 * Guarantees:
 * - At most once per subscriber process: a payload published while an instance's subscription is down is lost
 *   for that instance (Redis Pub/Sub semantics). Room batches therefore carry `prevSeq` so the hub notices a
 *   gap and repairs it from the store; events (typing, presence, membership hints) are ephemeral.
 * - `publishRoom` is atomic per room: it records the room's last broadcast seq and publishes with the previously
 *   recorded one as `prevSeq`, so two publishers never interleave a chain. Messages at or below the recorded seq
 *   (a consumer's redelivery) are not published again. A room's batches reach each subscriber in publish order.
 * - Subscriptions are active when their promise resolves: anything published afterwards reaches the callback.
 */
export interface FanoutBus {
  publishRoom(roomId: string, messages: readonly MessageView[]): Promise<void>;
  /** `publishRoom` for several rooms at once (one round trip where the bus has them); atomic per room. */
  publishRooms(rooms: readonly RoomPublish[]): Promise<void>;
  /** The highest seq published for the room, or null when unknown (nothing published, or the bus lost it). */
  lastBroadcastSeq(roomId: string): Promise<string | null>;
  subscribeRoom(roomId: string, onBatch: (batch: RoomBatch) => void): Promise<void>;
  unsubscribeRoom(roomId: string): Promise<void>;

  publishEvent(topic: string, event: BusEvent): Promise<void>;
  /** `publishEvent` for several events at once (one round trip where the bus has them), in the given order. */
  publishEvents(events: readonly TopicEvent[]): Promise<void>;
  subscribeTopic(topic: string, onEvent: (event: BusEvent) => void): Promise<void>;
  unsubscribeTopic(topic: string): Promise<void>;

  publishMembership(change: MembershipChange): Promise<void>;
  publishPresence(change: PresenceChange): Promise<void>;
  /** Registers the one control listener of this process (membership and presence changes of every instance). */
  listenControl(handlers: ControlHandlers): Promise<void>;
  /**
   * Registers the one listener told when this process' subscriptions are active again after the bus lost them (a
   * reconnect, a failover): whatever was published meanwhile was lost for this process. Absent: never lost.
   */
  onResubscribed?(listener: () => void): void;

  close(): Promise<void>;
}
