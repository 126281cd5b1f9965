// The fan-out bus on Redis Pub/Sub: one connection publishes (and keeps the per-room last-seq keys), one
// dedicated connection subscribes. ioredis re-subscribes every channel after a reconnect; what was published
// meanwhile is gone for this process (at most once), which the hub's prevSeq gap repair covers for room messages.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { MessageView } from '../shared/model.js';
import type { BusEvent, ControlHandlers, FanoutBus, MembershipChange, PresenceChange, RoomBatch } from './fanout.js';
import { decodeControl, decodeEvent, decodeRoomBatch, encodeEvent } from './wire.js';

const ROOM_PREFIX = 'chat:room:';
const CONTROL = 'chat:control';
const lastSeqKey = (roomId: string) => `chat:room-last-seq:${roomId}`;
const topicChannel = (topic: string) => `chat:${topic}`;

// KEYS: last-seq key, channel. ARGV: fallback prev ('' = none), then (seq, message JSON) pairs in seq order.
// Publishes the messages above the recorded seq as one batch `{"p":prev,"m":[...]}` and records the last one.
const PUBLISH_ROOM = `
local prev = redis.call('GET', KEYS[1])
if not prev and ARGV[1] ~= '' then prev = ARGV[1] end
local p = tonumber(prev or '0')
local parts = {}
local last = nil
for i = 2, #ARGV, 2 do
  if tonumber(ARGV[i]) > p then
    parts[#parts + 1] = ARGV[i + 1]
    last = ARGV[i]
  end
end
if not last then return 0 end
redis.call('SET', KEYS[1], last)
redis.call('PUBLISH', KEYS[2], '{"p":"' .. (prev or '0') .. '","m":[' .. table.concat(parts, ',') .. ']}')
return #parts`;

type WithPublishRoom = Redis & { chatPublishRoom(k1: string, k2: string, ...argv: string[]): Promise<number> };

export class RedisFanoutBus implements FanoutBus {
  private readonly pub: WithPublishRoom;
  private readonly sub: Redis;
  private readonly rooms = new Map<string, (batch: RoomBatch) => void>();
  private readonly topics = new Map<string, (event: BusEvent) => void>();
  private control: ControlHandlers | null = null;
  /**
   * This process's memory of each room's last published seq: after a Redis restart the last-seq keys are gone,
   * and this keeps the prevSeq chain intact so gateways still see (and repair) the gap the restart left.
   */
  private readonly lastPublished = new Map<string, string>();

  constructor(
    url: string,
    private readonly log: Logger,
  ) {
    this.pub = new Redis(url, { maxRetriesPerRequest: 2, enableAutoPipelining: true }) as WithPublishRoom;
    this.pub.defineCommand('chatPublishRoom', { numberOfKeys: 2, lua: PUBLISH_ROOM });
    this.sub = new Redis(url, { maxRetriesPerRequest: null });
    for (const c of [this.pub, this.sub]) c.on('error', (err) => log.warn({ err }, 'redis fan-out connection error'));
    this.sub.on('message', (channel: string, payload: string) => this.dispatch(channel, payload));
  }

  private dispatch(channel: string, payload: string): void {
    if (channel.startsWith(ROOM_PREFIX)) {
      const roomId = channel.slice(ROOM_PREFIX.length);
      const handler = this.rooms.get(roomId);
      if (!handler) return;
      const batch = decodeRoomBatch(roomId, payload);
      if (batch) handler(batch);
      else this.log.warn({ channel }, 'malformed room batch on the fan-out bus dropped');
      return;
    }
    if (channel === CONTROL) {
      const msg = decodeControl(payload);
      if (!msg) return void this.log.warn('malformed control message on the fan-out bus dropped');
      if (msg.k === 'm') this.control?.membership({ roomId: msg.roomId, userId: msg.userId, change: msg.change });
      else this.control?.presence({ userId: msg.userId, status: msg.status, lastSeenAt: msg.lastSeenAt, roomIds: msg.roomIds });
      return;
    }
    const handler = this.topics.get(channel);
    if (!handler) return;
    const event = decodeEvent(payload);
    if (event) handler(event);
    else this.log.warn({ channel }, 'malformed event on the fan-out bus dropped');
  }

  async publishRoom(roomId: string, messages: readonly MessageView[]): Promise<void> {
    if (messages.length === 0) return;
    const argv: string[] = [this.lastPublished.get(roomId) ?? ''];
    for (const m of messages) argv.push(m.seq, JSON.stringify(m));
    await this.pub.chatPublishRoom(lastSeqKey(roomId), ROOM_PREFIX + roomId, ...argv);
    const last = messages[messages.length - 1]!.seq;
    const known = this.lastPublished.get(roomId);
    if (known === undefined && this.lastPublished.size >= 100_000) this.lastPublished.clear();
    if (known === undefined || BigInt(last) > BigInt(known)) this.lastPublished.set(roomId, last);
  }

  lastBroadcastSeq(roomId: string): Promise<string | null> {
    return this.pub.get(lastSeqKey(roomId));
  }

  async subscribeRoom(roomId: string, onBatch: (batch: RoomBatch) => void): Promise<void> {
    this.rooms.set(roomId, onBatch);
    await this.sub.subscribe(ROOM_PREFIX + roomId);
  }

  async unsubscribeRoom(roomId: string): Promise<void> {
    this.rooms.delete(roomId);
    await this.sub.unsubscribe(ROOM_PREFIX + roomId);
  }

  async publishEvent(topic: string, event: BusEvent): Promise<void> {
    await this.pub.publish(topicChannel(topic), encodeEvent(event));
  }

  async subscribeTopic(topic: string, onEvent: (event: BusEvent) => void): Promise<void> {
    this.topics.set(topicChannel(topic), onEvent);
    await this.sub.subscribe(topicChannel(topic));
  }

  async unsubscribeTopic(topic: string): Promise<void> {
    this.topics.delete(topicChannel(topic));
    await this.sub.unsubscribe(topicChannel(topic));
  }

  async publishMembership(change: MembershipChange): Promise<void> {
    await this.pub.publish(CONTROL, JSON.stringify({ k: 'm', ...change }));
  }

  async publishPresence(change: PresenceChange): Promise<void> {
    await this.pub.publish(CONTROL, JSON.stringify({ k: 'p', ...change }));
  }

  async listenControl(handlers: ControlHandlers): Promise<void> {
    this.control = handlers;
    await this.sub.subscribe(CONTROL);
  }

  async ping(): Promise<void> {
    await this.pub.ping();
  }

  async close(): Promise<void> {
    this.rooms.clear();
    this.topics.clear();
    this.control = null;
    await Promise.allSettled([this.pub.quit(), this.sub.quit()]);
  }
}
