// The fan-out bus on Redis Pub/Sub: one connection publishes (and keeps the per-room last-seq keys), one
// dedicated connection subscribes. ioredis re-subscribes every channel after a reconnect (a restart or a Sentinel
// failover); what was published meanwhile is gone for this process (at most once), which the hub's prevSeq gap
// repair covers for room messages — on the room's next publish, or at once through `onResubscribed`.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ReplicaWait, type ReplicaWaitOptions } from '../counters/replica-wait-redis.js';
import type { MessageView } from '../shared/model.js';
import { defineScript, perChunk, type RedisScript } from '../counters/scripts-redis.js';
import type { BusEvent, ControlHandlers, FanoutBus, MembershipChange, PresenceChange, RoomBatch, RoomPublish, TopicEvent } from './fanout.js';
import { decodeControl, decodeEvent, decodeRoomBatch, encodeEvent } from './wire.js';

const ROOM_PREFIX = 'chat:room:';
const CONTROL = 'chat:control';
const lastSeqKey = (roomId: string) => `chat:room-last-seq:${roomId}`;
const topicChannel = (topic: string) => `chat:${topic}`;

// KEYS: per room its last-seq key and its channel. ARGV: per room, in the same order, the publisher's own last seq
// for the room ('' = none: it wins when the key is lower or gone — a restart or a failover lost the newest write),
// the number of messages, then (seq, message JSON) pairs in seq order. For each room, publishes the messages above
// the recorded seq as one batch `{"p":prev,"m":[...]}` and records the last one. Returns how many went out.
const PUBLISH_ROOMS = `
local a = 1
local total = 0
for r = 1, #KEYS, 2 do
  local prev = redis.call('GET', KEYS[r])
  local own = ARGV[a]
  local n = tonumber(ARGV[a + 1])
  a = a + 2
  if own ~= '' and ((not prev) or tonumber(own) > tonumber(prev)) then prev = own end
  local p = tonumber(prev or '0')
  local parts = {}
  local last = nil
  for i = a, a + 2 * n - 2, 2 do
    if tonumber(ARGV[i]) > p then
      parts[#parts + 1] = ARGV[i + 1]
      last = ARGV[i]
    end
  end
  a = a + 2 * n
  if last then
    redis.call('SET', KEYS[r], last)
    redis.call('PUBLISH', KEYS[r + 1], '{"p":"' .. (prev or '0') .. '","m":[' .. table.concat(parts, ',') .. ']}')
    total = total + #parts
  end
end
return total`;

// KEYS: channels; ARGV: the payload for each, in the same order.
const PUBLISH_EVENTS = `
for i = 1, #KEYS do redis.call('PUBLISH', KEYS[i], ARGV[i]) end
return #KEYS`;

/**
 * The rooms of a `publishRooms` call share one script call instead of a call each (the broadcast group joins the
 * batches of one fetch: at 500 msgs/s into 20 rooms a call carries 3–7 rooms). At most this many rooms per call,
 * so that one script never holds Redis for long.
 */
const ROOMS_PER_CALL = 256;
/** The same bound for the events of one `publishEvents` call (the notify group's unread counts of a batch). */
const EVENTS_PER_CALL = 256;

/** The bus' two connections (src/infra/redis.ts makes them), used by nothing else, and the WAIT policy. */
export interface RedisFanoutConnections {
  publisher: Redis;
  subscriber: Redis;
  /** WAIT after each publish, so the room's last seq survives a failover (replicas 0: none). */
  replicaWait?: ReplicaWaitOptions;
}

export class RedisFanoutBus implements FanoutBus {
  private readonly pub: Redis;
  private readonly publishScript: RedisScript;
  private readonly eventsScript: RedisScript;
  private readonly sub: Redis;
  private readonly replica: ReplicaWait;
  private readonly rooms = new Map<string, (batch: RoomBatch) => void>();
  private readonly topics = new Map<string, (event: BusEvent) => void>();
  private control: ControlHandlers | null = null;
  private resubscribed: (() => void) | null = null;
  /**
   * This process's memory of each room's last published seq: after a Redis restart or failover the last-seq key is
   * gone or older, and this keeps the prevSeq chain intact so gateways still see (and repair) the gap it left.
   */
  private readonly lastPublished = new Map<string, string>();

  constructor(
    connections: RedisFanoutConnections,
    private readonly log: Logger,
  ) {
    this.pub = connections.publisher;
    this.publishScript = defineScript(this.pub, 'chatPublishRooms', null, PUBLISH_ROOMS);
    this.eventsScript = defineScript(this.pub, 'chatPublishEvents', null, PUBLISH_EVENTS);
    this.sub = connections.subscriber;
    this.replica = new ReplicaWait(this.pub, connections.replicaWait ?? { replicas: 0, timeoutMs: 0 });
    this.sub.on('message', (channel: string, payload: string) => this.dispatch(channel, payload));
    let connected = this.sub.status === 'ready';
    this.sub.on('ready', () => {
      if (!connected) return void (connected = true);
      // ioredis has just sent the SUBSCRIBEs again: a PING answered after them means they are active.
      this.sub.ping().then(
        () => this.resubscribed?.(),
        (err: unknown) => this.log.warn({ err }, 'fan-out subscriber ping after reconnect failed'),
      );
    });
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

  publishRoom(roomId: string, messages: readonly MessageView[]): Promise<void> {
    return this.publishRooms([{ roomId, messages }]);
  }

  async publishRooms(rooms: readonly RoomPublish[]): Promise<void> {
    const nonEmpty = rooms.filter((r) => r.messages.length > 0);
    await perChunk(nonEmpty, ROOMS_PER_CALL, (part) => this.publishCall(part));
  }

  private async publishCall(rooms: readonly RoomPublish[]): Promise<void> {
    const keys: string[] = [];
    const argv: string[] = [];
    for (const { roomId, messages } of rooms) {
      keys.push(lastSeqKey(roomId), ROOM_PREFIX + roomId);
      argv.push(this.lastPublished.get(roomId) ?? '', String(messages.length));
      for (const m of messages) argv.push(m.seq, JSON.stringify(m));
    }
    const mark = this.replica.mark();
    await this.publishScript(keys.length, ...keys, ...argv);
    // A rejection (failover under way) fails the publish: the broadcast consumer publishes the batch again.
    await this.replica.replicated(mark);
    for (const { roomId, messages } of rooms) {
      const last = messages[messages.length - 1]!.seq;
      const known = this.lastPublished.get(roomId);
      if (known === undefined && this.lastPublished.size >= 100_000) this.lastPublished.clear();
      if (known === undefined || BigInt(last) > BigInt(known)) this.lastPublished.set(roomId, last);
    }
  }

  lastBroadcastSeq(roomId: string): Promise<string | null> {
    return this.pub.get(lastSeqKey(roomId));
  }

  async subscribeRoom(roomId: string, onBatch: (batch: RoomBatch) => void): Promise<void> {
    this.rooms.set(roomId, onBatch);
    await this.subscribe(ROOM_PREFIX + roomId, () => this.rooms.get(roomId) === onBatch && this.rooms.delete(roomId));
  }

  /** A SUBSCRIBE that failed (timed out during an outage) may still be applied later: it is undone then. */
  private async subscribe(channel: string, forget: () => void): Promise<void> {
    try {
      await this.sub.subscribe(channel);
    } catch (err) {
      forget();
      this.sub.unsubscribe(channel).catch(() => {});
      throw err;
    }
  }

  onResubscribed(listener: () => void): void {
    this.resubscribed = listener;
  }

  async unsubscribeRoom(roomId: string): Promise<void> {
    this.rooms.delete(roomId);
    await this.sub.unsubscribe(ROOM_PREFIX + roomId);
  }

  async publishEvent(topic: string, event: BusEvent): Promise<void> {
    await this.pub.publish(topicChannel(topic), encodeEvent(event));
  }

  async publishEvents(events: readonly TopicEvent[]): Promise<void> {
    if (events.length === 1) return this.publishEvent(events[0]!.topic, events[0]!.event);
    await perChunk(events, EVENTS_PER_CALL, (part) =>
      this.eventsScript(part.length, ...part.map((e) => topicChannel(e.topic)), ...part.map((e) => encodeEvent(e.event))),
    );
  }

  async subscribeTopic(topic: string, onEvent: (event: BusEvent) => void): Promise<void> {
    const channel = topicChannel(topic);
    this.topics.set(channel, onEvent);
    await this.subscribe(channel, () => this.topics.get(channel) === onEvent && this.topics.delete(channel));
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
    this.replica.close();
    await Promise.allSettled([this.pub.quit(), this.sub.quit()]);
  }
}
