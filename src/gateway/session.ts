// One STOMP connection: the protocol state machine (handshake, frame dispatch, output, teardown), independent of
// the transport. SENDs (sends.ts), subscriptions (subscription-set.ts), heart-beats, transactions and flow control
// live in their own modules; this file decides what happens when, and re-checks the connection after every await.
// The lifecycle is a ready state (session-state.ts: CONNECTING, OPEN, CLOSING, CLOSED) with its moves in one place.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { StompDecoder, StompProtocolError, encodeFrame, type Frame, type StompVersion } from '../../protocol/index.js';
import { AppError, appError, toStompCode } from '../shared/errors.js';
import { isTransientError } from '../shared/failures.js';
import type { SessionUser } from '../shared/model.js';
import { TokenBucket } from '../shared/token-bucket.js';
import { Budget, FrameDeadline, InboundFlow, Pause, type FlowHost } from './flow.js';
import type { SessionDeps } from './session-deps.js';
import { VersionMismatch, negotiateVersion, tokenOf } from './handshake.js';
import { Heartbeats, negotiate, parseHeartBeat, type HeartbeatIo } from './heartbeat.js';
import { Sends } from './sends.js';
import { Lifecycle, ReadyState, type LifecycleHost, type SessionFailure } from './session-state.js';
import { SubscriptionSet } from './subscription-set.js';
import type { Transport } from './transport.js';

const ERROR_CONTENT_TYPE = 'text/plain;charset=utf-8';
/** Frames decoded and not yet handled before the connection stops reading. */
const MAX_PENDING_FRAMES = 256;
/** How long a half-closed, disconnecting or cut-off connection may take to finish its replies. */
const FINISH_MS = 15_000;

/**
 * One per connection, idle or not, so its size counts: its helpers call it back through the interfaces it implements
 * and its timers call module functions — no closure and context per callback and connection (~1 KB per connection).
 */
export class Session implements LifecycleHost, FlowHost, HeartbeatIo {
  readonly id = randomUUID();
  user: SessionUser | null = null;
  version: StompVersion = '1.2';
  private readonly life: Lifecycle;
  private readonly decoder: StompDecoder;
  private chain: Promise<void> = Promise.resolve();
  private pendingFrames = 0;
  private readonly flow: InboundFlow;
  private subs: SubscriptionSet | null = null;
  private sendsOf: Sends | null = null;
  private readonly frameBucket: TokenBucket;
  private heartbeats: Heartbeats | null = null;
  private lastReceivedAt = Date.now();
  /** performance.now() of the last write: the next heart-beat is due an interval after it. */
  private lastWrite = performance.now();
  private connectTimer: NodeJS.Timeout | null;
  private readonly frameDeadline: FrameDeadline;
  private childLog: Logger | null = null;

  constructor(
    private readonly transport: Transport,
    private readonly deps: SessionDeps,
    /** access_token from the WebSocket URL, if any. */
    private readonly urlToken: string | null = null,
  ) {
    this.life = new Lifecycle(this, FINISH_MS);
    this.frameBucket = new TokenBucket(deps.rate.framesPerSec, deps.rate.framesBurst);
    this.flow = new InboundFlow(transport, deps.rate.abuseMs, this);
    const { maxFrameBytes, maxHeaders, maxHeaderBytes } = deps.limits;
    this.decoder = new StompDecoder(this, { commands: 'client', maxFrameBytes, maxHeaders, maxHeaderBytes });
    this.frameDeadline = new FrameDeadline(deps.frameTimeoutMs, this.decoder, this.flow, this);
    deps.metrics.sessionsActive.inc({ transport: transport.kind });
    this.connectTimer = setTimeout(connectTimedOut, deps.connectTimeoutMs, this, deps.connectTimeoutMs);
  }

  /** A child logger made on first use (most sessions never log: no per-connection logger object). */
  get log(): Logger {
    return (this.childLog ??= this.deps.log.child({ sessionId: this.id, transport: this.transport.kind, ...(this.user ? { userId: this.user.id } : {}) }));
  }

  /** CONNECTING, OPEN, CLOSING or CLOSED (session-state.ts). */
  get readyState(): ReadyState {
    return this.life.state;
  }

  get closed(): boolean {
    return this.life.closed;
  }

  // --- input ----------------------------------------------------------------------------------------

  /** Bytes from the transport. */
  onData(chunk: Buffer): void {
    if (this.life.closed || this.life.ending?.deaf) return;
    this.lastReceivedAt = Date.now();
    try {
      this.decoder.push(chunk);
      this.frameDeadline.check();
    } catch (err) {
      // Nothing more is read; the frames decoded before the bad one are handled first (their RECEIPTs go out),
      // then the ERROR.
      if (!(err instanceof StompProtocolError)) this.log.warn({ err }, 'unreadable frame');
      const [code, message] = err instanceof StompProtocolError ? [err.code, err.message] : (['bad-frame', 'unreadable frame'] as const);
      this.flow.pause(Pause.Rate);
      this.life.finish({ failure: { code, message, receiptId: this.decoder.pendingReceipt }, deaf: true });
    }
  }

  /** The peer shut its sending side (TCP half-close): finish every reply, then close. */
  onInputEnded(): void {
    this.life.finish({ failure: null, deaf: false });
  }

  /** The transport closed under us (peer gone, socket error). */
  onTransportClosed(): void {
    this.teardown();
  }

  /** Graceful shutdown of the instance: tell the client and close. */
  shutdown(): void {
    this.fail({ code: 'server-unavailable', message: 'server is shutting down; reconnect to another instance' });
  }

  // --- callbacks of the helpers (LifecycleHost, FlowHost, HeartbeatIo, the decoder's) ----------------------
  // After a pause in reading, the peer's heart-beats and the rest of a started frame waited in the kernel: the
  // peer was not silent, and the frame deadline restarts. Not reading is our doing, not the peer's silence.

  busy(): boolean {
    return (this.sendsOf?.inflight ?? 0) > 0 || this.pendingFrames > 0;
  }
  catchingUp(): boolean {
    return this.subs?.catchingUp ?? false;
  }
  abused(): void {
    this.failAfterDrain({ code: 'rate-limited', message: `over the rate limit for more than ${this.deps.rate.abuseMs} ms; slow down` });
  }
  readResumed(): void {
    this.lastReceivedAt = Date.now();
    this.frameDeadline.check(true);
  }
  lastWriteAt(): number {
    return this.lastWrite;
  }
  sendHeartbeat(data: Buffer): void {
    this.transport.send(data);
    this.lastWrite = performance.now();
  }
  silentForMs(): number {
    return this.flow.isPaused ? 0 : Date.now() - this.lastReceivedAt;
  }
  peerDead(): void {
    this.log.info('peer missed heart-beats');
    this.teardown();
    this.transport.destroy();
  }
  tokenExpired(): void {
    this.fail({ code: 'unauthorized', message: 'token expired; reconnect with a fresh token' });
  }

  /** The decoder's handler: one complete frame. */
  onFrame(frame: Frame): void {
    this.deps.metrics.framesIn.inc({ command: frame.command });
    // The version decides how the following frames' headers are unescaped, possibly in this same chunk.
    if (this.user === null && (frame.command === 'CONNECT' || frame.command === 'STOMP')) {
      const version = negotiateVersion(frame);
      if (version) this.decoder.version = this.version = version;
    }
    // Flow control: every frame costs a token; a connection over its rate stops being read until it is back.
    this.flow.charge(this.frameBucket.charge(), Budget.Frames, this.frameBucket.level() >= 0.5);
    if (++this.pendingFrames > MAX_PENDING_FRAMES) this.flow.pause(Pause.Backlog);
    // Frames are handled strictly in arrival order; a SEND's acknowledgement is awaited off the chain.
    this.chain = this.chain
      .then(() => (this.closed ? undefined : this.handle(frame)))
      .catch((err: unknown) => this.onHandlerError(err, frame))
      .then(() => {
        if (--this.pendingFrames <= MAX_PENDING_FRAMES / 4 && !this.closed) this.flow.resume(Pause.Backlog);
        this.life.finishIfDone();
      });
  }

  private onHandlerError(err: unknown, frame: Frame): void {
    const receiptId = frame.headers.receipt;
    if (err instanceof AppError) {
      this.fail({ code: toStompCode(err.code), message: err.message, receiptId, headers: err instanceof VersionMismatch ? err.headers : undefined });
    } else if (isTransientError(err)) {
      this.fail({ code: 'server-unavailable', message: 'a dependency is unavailable; retry', receiptId, cause: err });
    } else {
      this.log.error({ err, command: frame.command }, 'frame handling failed');
      this.fail({ code: 'server-unavailable', message: 'internal error', receiptId });
    }
  }

  private async handle(frame: Frame): Promise<void> {
    if (this.user === null) {
      if (frame.command !== 'CONNECT' && frame.command !== 'STOMP') throw appError('unauthorized', 'CONNECT first');
      return this.connect(frame);
    }
    switch (frame.command) {
      case 'SEND':
        return this.sends().send(frame);
      case 'SUBSCRIBE':
        return this.subscriptions().subscribe(frame);
      case 'UNSUBSCRIBE':
        return this.subscriptions().unsubscribe(frame);
      case 'ACK':
      case 'NACK':
        return this.subscriptions().ack(frame);
      case 'BEGIN':
        return this.sends().begin(frame);
      case 'COMMIT':
        return this.sends().commit(frame);
      case 'ABORT':
        return this.sends().abort(frame);
      case 'DISCONNECT':
        // The RECEIPT of a DISCONNECT follows the receipts of every SEND before it (held back FINISH_MS at most).
        await this.sendsOf?.idle(FINISH_MS);
        this.receipt(frame);
        return this.close();
      default:
        throw appError('bad-frame', `${frame.command} is not allowed after CONNECT`);
    }
  }

  // --- CONNECT --------------------------------------------------------------------------------------

  private async connect(frame: Frame): Promise<void> {
    if (!negotiateVersion(frame)) throw new VersionMismatch();
    // STOMP 1.0 has no heart-beating.
    const [cx, cy] = this.version === '1.0' ? [0, 0] : parseHeartBeat(frame.headers['heart-beat']);
    const auth = await this.deps.authenticate(tokenOf(frame, this.urlToken));
    if (this.closed) return; // closed while authenticating
    // Only what the connection needs of the row (~150 bytes less per connection).
    this.user = { id: auth.user.id, email: auth.user.email };
    // A connection already CLOSING (its input ended right after the CONNECT) stays CLOSING, now with a user.
    if (this.life.state === ReadyState.CONNECTING) this.life.enter(ReadyState.OPEN);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.deps.gate.authenticated(this.transport.remoteAddress);
    this.deps.opened(this);
    const ours = this.deps.heartbeatMs;
    this.writeFrame('CONNECTED', {
      version: this.version,
      // STOMP 1.0 has no heart-beating: promising it would make 1.0 clients that read the header time out.
      ...(this.version === '1.0' ? {} : { 'heart-beat': `${ours},${ours}` }),
      session: this.id,
      server: `kafka-stomp-chat/${this.deps.instanceId}`,
      'user-name': auth.user.id,
    });
    // A session ends with its token (the client reconnects with a fresh one): the heart-beats' timer ends it.
    this.heartbeats = Heartbeats.start(negotiate(ours, cx, cy), this, auth.expiresAt);
  }

  private sends(): Sends {
    return (this.sendsOf ??= new Sends(
      {
        user: this.user!,
        active: () => !this.closed,
        throttle: (waitMs, recovered) => this.flow.charge(waitMs, Budget.Sends, recovered),
        receipt: (frame, headers) => this.receipt(frame, headers),
        failFrame: (err, frame) => this.onHandlerError(err, frame),
        settled: () => this.life.finishIfDone(),
      },
      this.deps,
    ));
  }

  private subscriptions(): SubscriptionSet {
    return (this.subs ??= new SubscriptionSet(
      {
        user: this.user!,
        version: this.version,
        active: () => !this.closed,
        write: (bytes) => this.write(bytes),
        receipt: (frame, headers) => this.receipt(frame, headers),
        failFrame: (err, frame) => this.onHandlerError(err, frame),
        drained: () => this.drained(),
        warn: (data, message) => this.log.warn(data, message),
        ended: () => this.life.finishIfDone(),
      },
      this.deps,
    ));
  }

  // --- output ---------------------------------------------------------------------------------------

  /** Resolves when the transport's buffered output is below half the outbox bound. */
  private drained(): Promise<void> {
    if (this.transport.bufferedBytes() <= this.deps.limits.maxOutboxBytes / 2 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.transport.onDrain(resolve));
  }

  private writeFrame(command: string, headers: Record<string, string>, body?: string): void {
    this.write(encodeFrame(command, headers, body, this.version));
  }

  private write(bytes: Buffer): void {
    if (this.closed) return;
    // A client that cannot keep up is cut off instead of growing our memory without limit.
    if (this.transport.bufferedBytes() + bytes.length > this.deps.limits.maxOutboxBytes) {
      this.deps.metrics.slowConsumersClosed.inc();
      this.log.warn({ buffered: this.transport.bufferedBytes() }, 'slow consumer closed');
      this.fail({ code: 'server-unavailable', message: 'client too slow: output buffer limit exceeded' });
      return;
    }
    this.transport.send(bytes);
    this.lastWrite = performance.now();
  }

  private receipt(frame: Frame, extra?: Record<string, string>): void {
    const id = frame.headers.receipt;
    if (id === undefined) return;
    this.writeFrame('RECEIPT', { 'receipt-id': id, ...extra });
  }

  /** ERROR frame (with receipt-id when the frame had one), then close. */
  fail(failure: SessionFailure): void {
    if (this.closed) return;
    const { code, message, receiptId, cause, headers: extra } = failure;
    if (cause) this.log.warn({ err: cause, code }, 'session failed');
    this.deps.metrics.stompErrors.inc({ code });
    const headers: Record<string, string> = { message: code, ...extra, 'content-type': ERROR_CONTENT_TYPE };
    if (receiptId !== undefined) headers['receipt-id'] = receiptId;
    // Bypasses the outbox bound: the ERROR is the last frame either way.
    this.transport.send(encodeFrame('ERROR', headers, message, this.version));
    this.close();
  }

  /** Stops reading, lets the SENDs already taken get their RECEIPTs, then fails (nothing acknowledged goes unsaid). */
  private failAfterDrain(failure: SessionFailure): void {
    if (this.closed || this.life.ending?.failure) return;
    this.flow.pause(Pause.Rate);
    this.life.finish({ failure, deaf: false });
  }

  // --- the end -------------------------------------------------------------------------------------

  /** LifecycleHost: close without an ERROR. */
  close(): void {
    this.teardown();
    this.transport.end();
  }

  private teardown(): void {
    if (this.closed) return;
    // Not authenticated: the gate counted a pending connection, and the registry never saw it.
    const pending = this.user === null;
    this.life.enter(ReadyState.CLOSED);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.frameDeadline.stop();
    this.flow.stop();
    this.heartbeats?.stop();
    this.subs?.closeAll();
    this.sendsOf?.close();
    this.deps.metrics.sessionsActive.dec({ transport: this.transport.kind });
    this.deps.gate.closed(this.transport.remoteAddress, pending);
    if (!pending) this.deps.closed(this);
  }
}

function connectTimedOut(s: Session, ms: number): void {
  s.fail({ code: 'bad-frame', message: `no CONNECT frame within ${ms} ms (CONNECT_TIMEOUT_MS); connection closed` });
}
