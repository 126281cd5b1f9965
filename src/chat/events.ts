// Ephemeral events to a room's `.events` topic and to a user's notification queue (at most once, never stored).
import type { FanoutBus } from '../fanout/fanout.js';
import { topics } from '../fanout/fanout.js';
import { dropFailure, type CountDropped } from '../shared/dropped.js';

export class Events {
  constructor(
    private readonly bus: Pick<FanoutBus, 'publishEvent' | 'publishEvents'>,
    /** Counts the events that could not be published. */
    readonly dropped: CountDropped,
  ) {}

  room(roomId: string, eventType: string, body: unknown): Promise<void> {
    return this.bus.publishEvent(topics.roomEvents(roomId), { eventType, body });
  }

  user(userId: string, eventType: string, body: unknown): Promise<void> {
    return this.bus.publishEvent(topics.user(userId), { eventType, body });
  }

  /** Best effort: an event that cannot be published is dropped and counted (clients re-read state over REST). */
  roomQuietly(roomId: string, eventType: string, body: unknown): Promise<void> {
    return dropFailure(this.room(roomId, eventType, body), 'event', this.dropped);
  }

  userQuietly(userId: string, eventType: string, body: unknown): Promise<void> {
    return dropFailure(this.user(userId, eventType, body), 'event', this.dropped);
  }

  /** `userQuietly` for several users' events of one type in one publish; a failed publish drops (and counts) each. */
  usersQuietly(eventType: string, events: ReadonlyArray<{ userId: string; body: unknown }>): Promise<void> {
    const published = this.bus.publishEvents(events.map(({ userId, body }) => ({ topic: topics.user(userId), event: { eventType, body } })));
    return published.then(
      () => undefined,
      () => events.forEach(() => this.dropped('event')),
    );
  }
}
