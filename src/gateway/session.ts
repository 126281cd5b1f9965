// One STOMP connection: the protocol state machine, independent of the transport (WebSocket or TCP).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { HEARTBEAT, StompDecoder, StompProtocolError, encodeFrame, type Frame } from '../../protocol/index.js';
import type { Authenticator } from '../auth/authenticate.js';
import type { ChatMessage, User } from '../chat/model.js';
import { isDecimalId, toView } from '../chat/model.js';
import type { ChatService, SendInput } from '../chat/service.js';
import { AppError, STOMP_ERROR_CODES, appError, type ErrorCode } from '../errors.js';
import { channels } from '../fanout/fanout.js';
import type { Hub, LiveMessage, RoomSubscriber, TopicSubscriber } from '../fanout/hub.js';
import { prepareLive } from '../fanout/hub.js';
import type { AckPositions } from '../counters/ack-positions.js';
import type { Metrics } from '../metrics/metrics.js';
import type { TokenBucket } from './rate-limit.js';

/** The byte pipe under a session. */
export interface Transport {
  readonly kind: 'ws' | 'tcp';
  send(data: Buffer): void;
  /** Bytes accepted by send() and not yet handed to the kernel. */
  bufferedBytes(): number;
  /** Flushes what is queued, then closes. */
  end(): void;
  /** Closes now, dropping queued output. */
  destroy(): void;
}

export interface GatewayLimits {
  maxFrameBytes: number;
  maxHeaders: number;
  maxHeaderBytes: number;
  maxSubscriptions: number;
  maxOutboxBytes: number;
}

/** What the session needs from the rest of the process (wired in main.ts). */
export interface SessionDeps {
  authenticate: Authenticator;
  chat: ChatService;
  hub: Hub;
  log: Logger;
  metrics: Metrics;
  instanceId: string;
  limits: GatewayLimits;
  heartbeatMs: number;
  /** Highest seq broadcast for a room, or null when unknown (since-seq seam). */
  lastBroadcastSeq(roomId: string): Promise<string | null>;
  /** Reads stored messages with seq > afterSeq, oldest first. */
  messagesAfter(roomId: string, afterSeq: string, limit: number): Promise<ChatMessage[]>;
  /** Read receipts over STOMP (`/app/rooms.<id>.read`). */
  markRead(user: User, roomId: string, seq: string): Promise<unknown>;
  /** Typing relay (rate-limited by the caller). */
  typing(user: User, roomId: string): Promise<void>;
  connBucket(): TokenBucket;
  userBucket(userId: string): TokenBucket;
  /** client-ack resume points (see counters/ack-positions.ts). */
  acks: AckPositions;
  /** Presence bookkeeping. */
  onConnected(session: Session): Promise<void>;
  onClosed(session: Session): void;
  /** How long a connection may stay without CONNECT. */
  connectTimeoutMs?: number;
  /** How long a started frame may stay incomplete (a half-sent frame must not hold a connection forever). */
  frameTimeoutMs?: number;
}

type AckMode = 'auto' | 'client' | 'client-individual';

const ROOM_DEST = /^\/topic\/rooms\.(\d{1,19})$/;
const EVENTS_DEST = /^\/topic\/rooms\.(\d{1,19})\.events$/;
const READ_DEST = /^\/app\/rooms\.(\d{1,19})\.read$/;
const USER_QUEUE = '/user/queue/notifications';
const SUPPORTED_VERSIONS = ['1.2', '1.1', '1.0'];
const REPLAY_PAGE = 200;
const REPLAY_WAIT_MS = 10_000;
const TYPING_INTERVAL_MS = 1000;

class RoomSubscription implements RoomSubscriber {
  /** Highest seq written to the client (or replayed); later duplicates are dropped. */
  lastSeq: bigint = -1n;
  replaying = false;
  private buffer: LiveMessage[] = [];
  /** client / client-individual: ack id -> seq of MESSAGEs not yet acknowledged. */
  readonly unacked = new Map<string, bigint>();

  constructor(
    readonly id: string,
    readonly roomId: string,
    readonly ack: AckMode,
    private readonly session: Session,
  ) {}

  push(message: LiveMessage): void {
    if (this.replaying) {
      this.buffer.push(message);
      return;
    }
    this.write(message);
  }

  write(message: LiveMessage): void {
    if (message.seq <= this.lastSeq) return;
    this.lastSeq = message.seq;
    if (this.ack !== 'auto') this.unacked.set(message.view.id, message.seq);
    this.session.deliver(this, message);
  }

  /** Ends the replay: buffered live messages newer than the replay go out in order. */
  finishReplay(): void {
    this.replaying = false;
    const buffered = this.buffer;
    this.buffer = [];
    for (const m of buffered) this.write(m);
  }
}

class TopicSubscription implements TopicSubscriber {
  constructor(
    readonly id: string,
    readonly channel: string,
    readonly destination: string,
    private readonly session: Session,
  ) {}

  pushEvent(eventType: string, body: Buffer): void {
    this.session.deliverEvent(this, eventType, body);
  }
}

export class Session {
  readonly id = randomUUID();
  log: Logger;
  user: User | null = null;
  version = '1.2';
  private state: 'connecting' | 'connected' | 'closed' = 'connecting';
  private readonly decoder: StompDecoder;
  private chain: Promise<void> = Promise.resolve();
  private readonly rooms = new Map<string, RoomSubscription>();
  private readonly topics = new Map<string, TopicSubscription>();
  private readonly transactions = new Map<string, Array<{ frame: Frame; roomId: string; input: SendInput }>>();
  private readonly lastTyping = new Map<string, number>();
  private lastReceivedAt = Date.now();
  private sendTimer: NodeJS.Timeout | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  private frameTimer: NodeJS.Timeout | null = null;
  private readonly connBucket: TokenBucket;

  constructor(
    private readonly transport: Transport,
    private readonly deps: SessionDeps,
    /** access_token from the WebSocket URL, if any. */
    private readonly urlToken: string | null = null,
  ) {
    this.log = deps.log.child({ sessionId: this.id, transport: transport.kind });
    this.connBucket = deps.connBucket();
    this.decoder = new StompDecoder(
      { onFrame: (f) => this.onFrame(f), onHeartbeat: () => {} },
      {
        commands: 'client',
        maxFrameBytes: deps.limits.maxFrameBytes,
        maxHeaders: deps.limits.maxHeaders,
        maxHeaderBytes: deps.limits.maxHeaderBytes,
      },
    );
    deps.metrics.sessionsActive.inc({ transport: transport.kind });
    this.connectTimer = setTimeout(() => this.fail('unauthorized', 'no CONNECT frame in time'), deps.connectTimeoutMs ?? 10_000);
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  /** Bytes from the transport. */
  onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.lastReceivedAt = Date.now();
    try {
      this.decoder.push(chunk);
      this.watchIncompleteFrame();
    } catch (err) {
      if (err instanceof StompProtocolError) this.fail(err.code, err.message, this.decoder.pendingReceipt);
      else this.fail('bad-frame', 'unreadable frame', this.decoder.pendingReceipt, err);
    }
  }

  /** Arms a timer while a frame is partly received; a frame completed in time disarms it. */
  private watchIncompleteFrame(): void {
    if (this.decoder.bufferedBytes === 0) {
      if (this.frameTimer) clearTimeout(this.frameTimer);
      this.frameTimer = null;
    } else if (!this.frameTimer && this.state !== 'closed') {
      this.frameTimer = setTimeout(() => {
        this.frameTimer = null;
        if (this.decoder.bufferedBytes > 0) this.fail('bad-frame', 'frame not completed in time', this.decoder.pendingReceipt);
      }, this.deps.frameTimeoutMs ?? 30_000);
    }
  }

  /** The transport closed under us (peer gone, socket error). */
  onTransportClosed(): void {
    this.teardown();
  }

  /** Graceful shutdown of the instance: tell the client and close. */
  shutdown(): void {
    if (this.state === 'closed') return;
    this.fail('server-unavailable', 'server is shutting down; reconnect to another instance');
  }

  private onFrame(frame: Frame): void {
    this.deps.metrics.framesIn.inc({ command: frame.command });
    // Frames are handled strictly in arrival order; a SEND's Kafka acknowledgement is awaited off the chain.
    this.chain = this.chain
      .then(() => (this.state === 'closed' ? undefined : this.handle(frame)))
      .catch((err: unknown) => this.onHandlerError(err, frame));
  }

  private onHandlerError(err: unknown, frame: Frame): void {
    if (err instanceof AppError) {
      this.fail(toStompCode(err.code), err.message, frame.headers.receipt, undefined, versionHeader(err));
    } else {
      this.log.error({ err, command: frame.command }, 'frame handling failed');
      this.fail('server-unavailable', 'internal error', frame.headers.receipt);
    }
  }

  private async handle(frame: Frame): Promise<void> {
    if (this.state === 'connecting') {
      if (frame.command !== 'CONNECT' && frame.command !== 'STOMP') throw appError('unauthorized', 'CONNECT first');
      return this.connect(frame);
    }
    switch (frame.command) {
      case 'SEND':
        return this.onSend(frame);
      case 'SUBSCRIBE':
        return this.onSubscribe(frame);
      case 'UNSUBSCRIBE':
        return this.onUnsubscribe(frame);
      case 'ACK':
      case 'NACK':
        return this.onAck(frame);
      case 'BEGIN':
        return this.onBegin(frame);
      case 'COMMIT':
        return this.onCommit(frame);
      case 'ABORT':
        return this.onAbort(frame);
      case 'DISCONNECT':
        this.receipt(frame);
        this.close();
        return;
      default:
        throw appError('bad-frame', `${frame.command} is not allowed after CONNECT`);
    }
  }

  // --- CONNECT --------------------------------------------------------------------------------

  private async connect(frame: Frame): Promise<void> {
    const accepted = (frame.headers['accept-version'] ?? '1.0').split(',').map((v) => v.trim());
    const version = SUPPORTED_VERSIONS.find((v) => accepted.includes(v));
    if (!version) throw new VersionMismatch(`supported versions are ${SUPPORTED_VERSIONS.join(',')}`);
    this.version = version;
    const auth = frame.headers.authorization ?? frame.headers.Authorization;
    const bearer = auth && /^Bearer\s+(.+)$/i.exec(auth)?.[1];
    this.user = await this.deps.authenticate(bearer || frame.headers.passcode || this.urlToken);
    this.log = this.log.child({ userId: this.user.id });
    this.state = 'connected';
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;

    const [cx, cy] = parseHeartBeat(frame.headers['heart-beat']);
    await this.deps.onConnected(this);
    if (this.state !== 'connected') return; // closed while registering
    const ours = this.deps.heartbeatMs;
    // Spec: we send every max(ours, cy) if both are non-zero; the client sends every max(cx, ours).
    const sendEvery = ours > 0 && cy > 0 ? Math.max(ours, cy) : 0;
    const expectEvery = ours > 0 && cx > 0 ? Math.max(ours, cx) : 0;
    this.writeFrame('CONNECTED', {
      version,
      'heart-beat': `${ours},${ours}`,
      session: this.id,
      server: `kafka-stomp-chat/${this.deps.instanceId}`,
      'user-name': this.user.id,
    });
    if (sendEvery > 0) {
      this.sendTimer = setInterval(() => {
        if (this.transport.bufferedBytes() === 0) this.transport.send(HEARTBEAT);
      }, sendEvery);
    }
    if (expectEvery > 0) {
      // Dead peer: nothing at all received for twice the agreed interval plus a fixed grace
      // (timers and busy event loops run late; a live client must never be cut for that).
      const deadAfter = expectEvery * 2 + 2000;
      this.checkTimer = setInterval(() => {
        if (Date.now() - this.lastReceivedAt > deadAfter) {
          this.log.info('peer missed heart-beats');
          this.teardown();
          this.transport.destroy();
        }
      }, expectEvery);
    }
  }

  // --- SEND -----------------------------------------------------------------------------------

  private async onSend(frame: Frame): Promise<void> {
    const user = this.user!;
    const destination = frame.headers.destination;
    if (!destination) throw appError('bad-frame', 'SEND needs a destination header');
    if (!this.connBucket.take() || !this.deps.userBucket(user.id).take()) {
      throw appError('rate-limited', 'too many frames; slow down');
    }
    let m: RegExpExecArray | null;
    if ((m = ROOM_DEST.exec(destination))) {
      const roomId = roomIdOf(m);
      const input = parseSendBody(frame);
      const tx = frame.headers.transaction;
      if (tx !== undefined) {
        const list = this.transactions.get(tx);
        if (!list) throw appError('bad-frame', `unknown transaction ${tx}`);
        this.deps.chat.validate(input);
        list.push({ frame, roomId, input });
        return;
      }
      const append = await this.deps.chat.beginSend(user, roomId, input);
      // Appended in frame order (queued synchronously); the RECEIPT waits for Kafka, off the chain.
      append().then(
        ({ message }) => {
          this.deps.metrics.messagesSent.inc({ via: 'stomp' });
          this.receipt(frame, { 'message-id': message.id, seq: message.seq });
        },
        (err: unknown) => this.onHandlerError(err, frame),
      );
      return;
    }
    if ((m = EVENTS_DEST.exec(destination))) {
      const roomId = roomIdOf(m);
      await this.deps.chat.requireMember(roomId, user.id);
      const now = Date.now();
      // Typing is ephemeral: over the limit it is dropped, not an error.
      if (now - (this.lastTyping.get(roomId) ?? 0) >= TYPING_INTERVAL_MS) {
        this.lastTyping.set(roomId, now);
        await this.deps.typing(user, roomId);
      }
      this.receipt(frame);
      return;
    }
    if ((m = READ_DEST.exec(destination))) {
      const roomId = roomIdOf(m);
      let seq: unknown;
      try {
        seq = (JSON.parse(frame.body.toString('utf8')) as { seq?: unknown }).seq;
      } catch {
        throw appError('invalid-message', 'body must be JSON {"seq":"<seq>"}');
      }
      if ((typeof seq !== 'string' && typeof seq !== 'number') || !isDecimalId(String(seq))) {
        throw appError('invalid-message', 'seq must be a non-negative decimal');
      }
      const result = await this.deps.markRead(user, roomId, String(seq));
      this.receipt(frame, receiptHeadersOf(result));
      return;
    }
    throw appError('unknown-destination', `cannot SEND to ${destination}`);
  }

  // --- SUBSCRIBE ------------------------------------------------------------------------------

  private async onSubscribe(frame: Frame): Promise<void> {
    const user = this.user!;
    const { destination, id } = frame.headers;
    if (!destination || id === undefined) throw appError('bad-frame', 'SUBSCRIBE needs destination and id headers');
    if (this.rooms.has(id) || this.topics.has(id)) throw appError('bad-frame', `subscription id ${id} is in use`);
    if (this.rooms.size + this.topics.size >= this.deps.limits.maxSubscriptions) {
      throw appError('bad-frame', `at most ${this.deps.limits.maxSubscriptions} subscriptions per connection`);
    }
    const ackHeader = frame.headers.ack ?? 'auto';
    if (ackHeader !== 'auto' && ackHeader !== 'client' && ackHeader !== 'client-individual') {
      throw appError('bad-frame', 'ack must be auto, client or client-individual');
    }
    let m: RegExpExecArray | null;
    if ((m = ROOM_DEST.exec(destination))) {
      const roomId = roomIdOf(m);
      await this.deps.chat.requireMember(roomId, user.id);
      let since = frame.headers['since-seq'];
      if (since !== undefined && !isDecimalId(since)) throw appError('bad-frame', 'since-seq must be a decimal seq');
      if (since === undefined && ackHeader !== 'auto') {
        // A client-ack subscriber that acknowledged before resumes after its last acknowledged message.
        since = (await this.deps.acks.get(user.id, roomId).catch(() => null)) ?? undefined;
      }
      const sub = new RoomSubscription(id, roomId, ackHeader, this);
      this.rooms.set(id, sub);
      if (since === undefined) {
        await this.deps.hub.addRoomSubscriber(roomId, sub);
        this.receipt(frame);
        return;
      }
      sub.replaying = true;
      sub.lastSeq = BigInt(since);
      await this.deps.hub.addRoomSubscriber(roomId, sub);
      const replayed = await this.replay(sub);
      sub.finishReplay();
      this.receipt(frame, { 'replayed-count': String(replayed), 'replay-end-seq': sub.lastSeq.toString() });
      return;
    }
    if ((m = EVENTS_DEST.exec(destination))) {
      const roomId = roomIdOf(m);
      await this.deps.chat.requireMember(roomId, user.id);
      await this.addTopic(new TopicSubscription(id, channels.roomEvents(roomId), destination, this));
      this.receipt(frame);
      return;
    }
    if (destination === USER_QUEUE) {
      await this.addTopic(new TopicSubscription(id, channels.user(user.id), destination, this));
      this.receipt(frame);
      return;
    }
    throw appError('unknown-destination', `cannot SUBSCRIBE to ${destination}`);
  }

  private async addTopic(sub: TopicSubscription): Promise<void> {
    this.topics.set(sub.id, sub);
    await this.deps.hub.addTopicSubscriber(sub.channel, sub);
  }

  /**
   * since-seq: the live subscription is active (and buffering) before this runs. Every message
   * broadcast before it became active has seq <= the room's last broadcast seq H, read now; those
   * come from the store, waiting for the persist consumer to reach H. Everything later arrives live.
   * The subscription drops seqs it already wrote, so the seam has neither gap nor duplicate.
   */
  private async replay(sub: RoomSubscription): Promise<number> {
    const high = BigInt((await this.deps.lastBroadcastSeq(sub.roomId)) ?? '0');
    const deadline = Date.now() + REPLAY_WAIT_MS;
    let count = 0;
    for (;;) {
      if (this.state === 'closed') return count;
      const page = await this.deps.messagesAfter(sub.roomId, sub.lastSeq.toString(), REPLAY_PAGE);
      if (page.length > 0) {
        const unread = await this.deps.chat.unreadCounts(sub.roomId, page);
        page.forEach((msg, i) => sub.write(prepareLive(toView(msg, unread[i] ?? 0))));
        count += page.length;
        if (page.length === REPLAY_PAGE) continue;
      }
      if (sub.lastSeq >= high) return count;
      if (Date.now() > deadline) {
        this.log.warn({ roomId: sub.roomId, high: high.toString() }, 'replay stopped before the broadcast high-water mark');
        return count;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  private async onUnsubscribe(frame: Frame): Promise<void> {
    const id = frame.headers.id;
    if (id === undefined) throw appError('bad-frame', 'UNSUBSCRIBE needs an id header');
    const room = this.rooms.get(id);
    if (room) {
      this.rooms.delete(id);
      this.deps.hub.removeRoomSubscriber(room.roomId, room);
    }
    const topic = this.topics.get(id);
    if (topic) {
      this.topics.delete(id);
      this.deps.hub.removeTopicSubscriber(topic.channel, topic);
    }
    this.receipt(frame);
  }

  private async onAck(frame: Frame): Promise<void> {
    const ackId = this.version === '1.2' ? frame.headers.id : frame.headers['message-id'];
    if (ackId === undefined) throw appError('bad-frame', `${frame.command} needs an id header`);
    for (const sub of this.rooms.values()) {
      const seq = sub.unacked.get(ackId);
      if (seq === undefined) continue;
      // A NACKed message stays unacknowledged: it is redelivered when the client resumes.
      if (frame.command === 'NACK') continue;
      if (sub.ack === 'client') {
        // Cumulative: everything up to this message is acknowledged.
        for (const [id, s] of sub.unacked) if (s <= seq) sub.unacked.delete(id);
      } else {
        sub.unacked.delete(ackId);
      }
      // Resume point: just below the oldest message still unacknowledged.
      let watermark = sub.lastSeq;
      for (const s of sub.unacked.values()) if (s - 1n < watermark) watermark = s - 1n;
      await this.deps.acks.advance(this.user!.id, sub.roomId, watermark.toString());
    }
    this.receipt(frame);
  }

  // --- transactions ---------------------------------------------------------------------------

  private async onBegin(frame: Frame): Promise<void> {
    const tx = frame.headers.transaction;
    if (!tx) throw appError('bad-frame', 'BEGIN needs a transaction header');
    if (this.transactions.has(tx)) throw appError('bad-frame', `transaction ${tx} already open`);
    this.transactions.set(tx, []);
    this.receipt(frame);
  }

  private async onCommit(frame: Frame): Promise<void> {
    const tx = frame.headers.transaction;
    const list = tx === undefined ? undefined : this.transactions.get(tx);
    if (!list) throw appError('bad-frame', `unknown transaction ${tx ?? ''}`);
    this.transactions.delete(tx!);
    if (list.length > 0) {
      const messages = await this.deps.chat.sendAtomically(this.user!, list);
      this.deps.metrics.messagesSent.inc({ via: 'stomp' }, messages.length);
      list.forEach(({ frame: f }, i) => this.receipt(f, { 'message-id': messages[i]!.id, seq: messages[i]!.seq }));
    }
    this.receipt(frame);
  }

  private async onAbort(frame: Frame): Promise<void> {
    const tx = frame.headers.transaction;
    const list = tx === undefined ? undefined : this.transactions.get(tx);
    if (!list) throw appError('bad-frame', `unknown transaction ${tx ?? ''}`);
    this.transactions.delete(tx!);
    // The SENDs were received and discarded: their receipts say so.
    for (const { frame: f } of list) this.receipt(f, { discarded: 'true' });
    this.receipt(frame);
  }

  // --- output ---------------------------------------------------------------------------------

  deliver(sub: RoomSubscription, message: LiveMessage): void {
    if (this.state !== 'connected') return;
    const bytes = sub.ack === 'auto' ? message.frame.frameFor(sub.id) : withAck(message, sub.id);
    this.write(bytes, 'MESSAGE');
    this.deps.metrics.messagesDelivered.inc();
  }

  deliverEvent(sub: TopicSubscription, eventType: string, body: Buffer): void {
    if (this.state !== 'connected') return;
    this.write(
      encodeFrame(
        'MESSAGE',
        {
          subscription: sub.id,
          'message-id': randomUUID(),
          destination: sub.destination,
          'content-type': 'application/json',
          'event-type': eventType,
        },
        body,
      ),
      'MESSAGE',
    );
  }

  private writeFrame(command: string, headers: Record<string, string>, body?: string): void {
    this.write(encodeFrame(command, headers, body), command);
  }

  private write(bytes: Buffer, command: string): void {
    if (this.state === 'closed') return;
    // A client that cannot keep up is cut off instead of growing our memory without limit.
    if (this.transport.bufferedBytes() + bytes.length > this.deps.limits.maxOutboxBytes) {
      this.deps.metrics.slowConsumersClosed.inc();
      this.log.warn({ buffered: this.transport.bufferedBytes() }, 'slow consumer closed');
      this.fail('server-unavailable', 'client too slow: output buffer limit exceeded');
      return;
    }
    this.transport.send(bytes);
    this.deps.metrics.framesOut.inc({ command });
  }

  private receipt(frame: Frame, extra?: Record<string, string>): void {
    const id = frame.headers.receipt;
    if (id === undefined) return;
    this.writeFrame('RECEIPT', { 'receipt-id': id, ...extra });
  }

  /** ERROR frame (with receipt-id when the frame had one), then close. */
  fail(code: ErrorCode, message: string, receiptId?: string, err?: unknown, extra?: Record<string, string>): void {
    if (this.state === 'closed') return;
    if (err) this.log.warn({ err, code }, 'session failed');
    this.deps.metrics.stompErrors.inc({ code });
    const headers: Record<string, string> = { message: code, ...extra, 'content-type': 'text/plain' };
    if (receiptId !== undefined) headers['receipt-id'] = receiptId;
    // Bypass the outbox bound: the ERROR is the last frame either way.
    this.transport.send(encodeFrame('ERROR', headers, message));
    this.deps.metrics.framesOut.inc({ command: 'ERROR' });
    this.close();
  }

  private close(): void {
    this.teardown();
    this.transport.end();
  }

  private teardown(): void {
    if (this.state === 'closed') return;
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    for (const t of [this.sendTimer, this.checkTimer]) if (t) clearInterval(t);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (this.frameTimer) clearTimeout(this.frameTimer);
    for (const sub of this.rooms.values()) this.deps.hub.removeRoomSubscriber(sub.roomId, sub);
    for (const sub of this.topics.values()) this.deps.hub.removeTopicSubscriber(sub.channel, sub);
    this.rooms.clear();
    this.topics.clear();
    // Open transactions die with the connection (STOMP: aborted on disconnect).
    this.transactions.clear();
    this.deps.metrics.sessionsActive.dec({ transport: this.transport.kind });
    if (wasConnected) this.deps.onClosed(this);
  }
}

/** STOMP 1.2: an ERROR for a failed version negotiation carries the versions the server supports. */
class VersionMismatch extends AppError {
  constructor(message: string) {
    super('bad-frame', message);
  }
}

function versionHeader(err: AppError): Record<string, string> | undefined {
  return err instanceof VersionMismatch ? { version: SUPPORTED_VERSIONS.join(',') } : undefined;
}

/**
 * STOMP ERRORs use API.md's short list. A room that does not exist answers `forbidden`, like one
 * the user is not in (it reveals nothing about which rooms exist); REST-only codes map to the nearest.
 */
function toStompCode(code: ErrorCode): ErrorCode {
  if ((STOMP_ERROR_CODES as readonly string[]).includes(code)) return code;
  if (code === 'not-found') return 'forbidden';
  if (code === 'invalid-credentials') return 'unauthorized';
  if (code === 'invalid-request' || code === 'conflict') return 'invalid-message';
  return 'server-unavailable';
}

/** client-ack subscriptions need an `ack` header: the message id, unique within the session. */
function withAck(message: LiveMessage, subscriptionId: string): Buffer {
  return encodeFrame(
    'MESSAGE',
    {
      subscription: subscriptionId,
      'message-id': message.view.id,
      ack: message.view.id,
      destination: `/topic/rooms.${message.view.roomId}`,
      'content-type': 'application/json',
      seq: message.view.seq,
      'room-id': message.view.roomId,
      'sender-id': message.view.senderId,
      'message-type': message.view.type,
      'created-at': message.view.createdAt,
    },
    Buffer.from(JSON.stringify(message.view)),
  );
}

/** The room id of a matched destination; one beyond bigint range names no room. */
function roomIdOf(match: RegExpExecArray): string {
  const id = match[1]!;
  if (!isDecimalId(id)) throw appError('unknown-destination', `no room ${id}`);
  return id;
}

function parseHeartBeat(value: string | undefined): [number, number] {
  if (!value) return [0, 0];
  const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(value);
  if (!m) throw appError('bad-frame', 'heart-beat must be "<cx>,<cy>"');
  return [Number(m[1]), Number(m[2])];
}

function parseSendBody(frame: Frame): SendInput {
  const contentType = (frame.headers['content-type'] ?? 'text/plain').split(';')[0]!.trim().toLowerCase();
  const headerKey = frame.headers['idempotency-key'];
  if (contentType === 'application/json') {
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(frame.body));
    } catch {
      throw appError('invalid-message', 'body is not valid UTF-8 JSON');
    }
    if (typeof body !== 'object' || body === null) throw appError('invalid-message', 'body must be a JSON object');
    const { content, type, idempotencyKey } = body as Record<string, unknown>;
    if (typeof content !== 'string') throw appError('invalid-message', 'content must be a string', 'content');
    if (type !== undefined && type !== 'TEXT' && type !== 'IMAGE') throw appError('invalid-message', 'type must be TEXT or IMAGE', 'type');
    if (idempotencyKey !== undefined && typeof idempotencyKey !== 'string') {
      throw appError('invalid-message', 'idempotencyKey must be a string', 'idempotencyKey');
    }
    return { content, type, idempotencyKey: idempotencyKey ?? headerKey ?? null };
  }
  let content: string;
  try {
    content = new TextDecoder('utf-8', { fatal: true }).decode(frame.body);
  } catch {
    throw appError('invalid-message', 'body is not valid UTF-8');
  }
  return { content, idempotencyKey: headerKey ?? null };
}

function receiptHeadersOf(result: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (result && typeof result === 'object') {
    for (const [k, v] of Object.entries(result)) {
      if (typeof v === 'string' || typeof v === 'number') out[k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)] = String(v);
    }
  }
  return out;
}
