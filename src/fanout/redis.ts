// The fan-out bus on Redis Pub/Sub: one connection publishes, one dedicated connection subscribes.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { FanoutBus } from './fanout.js';

export class RedisFanoutBus implements FanoutBus {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly handlers = new Map<string, (payload: string) => void>();

  constructor(url: string, log: Logger) {
    this.pub = new Redis(url, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false });
    this.sub = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
    for (const c of [this.pub, this.sub]) c.on('error', (err) => log.warn({ err }, 'redis fan-out connection error'));
    // ioredis re-subscribes every channel after a reconnect; what was published meanwhile is gone
    // (at-most-once), which the hub's seq-gap repair covers for room messages.
    this.sub.on('message', (channel: string, payload: string) => this.handlers.get(channel)?.(payload));
  }

  async publish(channel: string, payload: string): Promise<void> {
    await this.pub.publish(channel, payload);
  }

  async subscribe(channel: string, onMessage: (payload: string) => void): Promise<void> {
    this.handlers.set(channel, onMessage);
    await this.sub.subscribe(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.handlers.delete(channel);
    await this.sub.unsubscribe(channel);
  }

  async close(): Promise<void> {
    this.handlers.clear();
    await Promise.allSettled([this.pub.quit(), this.sub.quit()]);
  }
}
