// In-process fan-out bus for unit tests: same contract, no network.
import type { FanoutBus } from './fanout.js';

export class MemoryFanoutBus implements FanoutBus {
  private readonly handlers = new Map<string, (payload: string) => void>();

  async publish(channel: string, payload: string): Promise<void> {
    const h = this.handlers.get(channel);
    if (h) queueMicrotask(() => h(payload));
  }

  async subscribe(channel: string, onMessage: (payload: string) => void): Promise<void> {
    this.handlers.set(channel, onMessage);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.handlers.delete(channel);
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
