// Ephemeral events published on the fan-out bus (room `.events` topics and user queues).
import type { EventPublisher } from '../chat/ports.js';
import type { FanoutBus } from './fanout.js';
import { channels } from './fanout.js';

export class BusEventPublisher implements EventPublisher {
  constructor(private readonly bus: FanoutBus) {}

  async roomEvent(roomId: string, eventType: string, body: unknown): Promise<void> {
    await this.bus.publish(channels.roomEvents(roomId), JSON.stringify({ eventType, body }));
  }

  async userEvent(userId: string, eventType: string, body: unknown): Promise<void> {
    await this.bus.publish(channels.user(userId), JSON.stringify({ eventType, body }));
  }
}
