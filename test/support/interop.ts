// One driver interface over every STOMP client the interoperability tests run: raw frames (RawConn, any version,
// TCP or WebSocket), stompit (TCP, or WebSocket through a custom transport) and @stomp/stompjs (WebSocket).
// Each driver reports what its client library saw: the CONNECTED headers, MESSAGEs routed to subscription ids,
// RECEIPT headers, and ERRORs as the library surfaces them.
import { createRequire } from 'node:module';
import { Client, Versions, type IMessage, type StompHeaders } from '@stomp/stompjs';
import WebSocket, { createWebSocketStream } from 'ws';
import type { StompVersion } from '../../protocol/index.js';
import { waitFor, withDeadline } from './cluster.js';
import { RawConn, uid } from './raw.js';

const require = createRequire(import.meta.url);

export type Transport = 'tcp' | 'ws';
export type AckMode = 'auto' | 'client' | 'client-individual';

export interface Endpoint {
  tcpPort: number;
  wsUrl: string;
}

export interface Delivered {
  /** The subscription id the client library routed the MESSAGE to. */
  sub: string;
  headers: Record<string, string>;
  body: string;
  json: any;
  /** Library-specific handle used by ack()/nack(). */
  handle: unknown;
}

export interface ReportedError {
  /** The ERROR's `message` header as the library reports it. */
  message: string;
  body?: string;
  headers?: Record<string, string>;
}

export interface Session {
  readonly label: string;
  readonly version: StompVersion;
  readonly connected: Record<string, string>;
  readonly messages: Delivered[];
  readonly errors: ReportedError[];
  /** Resolves when the server confirmed the subscription (RECEIPT). `id` undefined: a 1.0 SUBSCRIBE without id. */
  subscribe(destination: string, id: string | undefined, ack?: AckMode): Promise<void>;
  /** UNSUBSCRIBE by id (or, raw 1.0, by destination) and wait for its RECEIPT. */
  unsubscribe(id: string, byDestination?: string): Promise<void>;
  /** SEND with a receipt; resolves with the RECEIPT's headers. */
  send(destination: string, body: string, headers?: Record<string, string>): Promise<Record<string, string>>;
  /** SEND without waiting for anything (error paths). */
  sendNoWait(destination: string, body: string): void;
  /** SUBSCRIBE without waiting (error paths). */
  subscribeNoWait(destination: string, id: string, ack?: AckMode): void;
  ack(m: Delivered): Promise<void>;
  nack(m: Delivered): Promise<void>;
  /** DISCONNECT with receipt, then close. */
  disconnect(): Promise<void>;
  destroy(): void;
  readonly isClosed: boolean;
  /** Resolves once the library reported an ERROR (or connection failure). */
  nextError(ms?: number): Promise<ReportedError>;
}

export interface Driver {
  label: string;
  lib: 'raw' | 'stompit' | 'stompjs';
  transport: Transport;
  version: StompVersion;
  open(server: Endpoint, token: string, opts?: OpenOptions): Promise<Session>;
}

export interface OpenOptions {
  heartBeat?: [number, number];
  /**
   * Library clients: how late a server heart-beat may be before the library cuts the connection (stompit's
   * heartbeatDelayMargin; stompjs's tolerance multiplier is set to 1 + this / the interval). Default: lenient (2 s,
   * or stompjs's 2 ×), since the test machine is loaded; strict checks of the server's beats set it small.
   */
  incomingMarginMs?: number;
  /** Called when a server heart-beat arrives (stompit over TCP and stompjs). */
  onServerBeat?: () => void;
}

function safeJson(s: string): any {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

const SUBPROTOCOL: Record<StompVersion, string> = { '1.0': 'v10.stomp', '1.1': 'v11.stomp', '1.2': 'v12.stomp' };

// --- raw frames -------------------------------------------------------------------------------------

class RawSession implements Session {
  private hb: NodeJS.Timeout | null = null;

  constructor(
    readonly label: string,
    readonly conn: RawConn,
    readonly connected: Record<string, string>,
  ) {}

  get version(): StompVersion {
    return this.conn.version;
  }

  get messages(): Delivered[] {
    return this.conn.messages().map((f) => ({ sub: f.headers.subscription!, headers: f.headers, body: f.text, json: f.json, handle: f }));
  }

  get errors(): ReportedError[] {
    return this.conn.frames.filter((f) => f.command === 'ERROR').map((f) => ({ message: f.headers.message ?? '', body: f.text, headers: f.headers }));
  }

  get isClosed(): boolean {
    return this.conn.isClosed;
  }

  startHeartbeats(everyMs: number): void {
    this.hb = setInterval(() => this.conn.write('\n'), everyMs);
    void this.conn.closed.then(() => this.stopHeartbeats());
  }

  stopHeartbeats(): void {
    if (this.hb) clearInterval(this.hb);
    this.hb = null;
  }

  async subscribe(destination: string, id: string | undefined, ack: AckMode = 'auto'): Promise<void> {
    await this.conn.subscribe(destination, id, ack !== 'auto' ? { ack } : {});
  }

  async unsubscribe(id: string, byDestination?: string): Promise<void> {
    await (byDestination !== undefined ? this.conn.unsubscribe(undefined, { destination: byDestination }) : this.conn.unsubscribe(id));
  }

  async send(destination: string, body: string, headers: Record<string, string> = {}): Promise<Record<string, string>> {
    return (await this.conn.sendWithReceipt(destination, body, headers)).headers;
  }

  sendNoWait(destination: string, body: string): void {
    this.conn.send('SEND', { destination, receipt: uid('snd') }, body);
  }

  subscribeNoWait(destination: string, id: string, ack: AckMode = 'auto'): void {
    this.conn.send('SUBSCRIBE', { destination, id, ...(ack !== 'auto' ? { ack } : {}), receipt: uid('sub') });
  }

  /** ACK/NACK headers as the negotiated version defines them. */
  private ackHeaders(m: Delivered): Record<string, string> {
    if (this.version === '1.2') return { id: m.headers.ack! };
    if (this.version === '1.1') return { 'message-id': m.headers['message-id']!, subscription: m.sub };
    return { 'message-id': m.headers['message-id']! };
  }

  async ack(m: Delivered): Promise<void> {
    await this.conn.frameWithReceipt('ACK', this.ackHeaders(m));
  }

  async nack(m: Delivered): Promise<void> {
    await this.conn.frameWithReceipt('NACK', this.ackHeaders(m));
  }

  async disconnect(): Promise<void> {
    await this.conn.frameWithReceipt('DISCONNECT', {});
    await this.conn.waitClosed(10_000);
    this.stopHeartbeats();
  }

  destroy(): void {
    this.stopHeartbeats();
    this.conn.destroy();
  }

  async nextError(ms = 20_000): Promise<ReportedError> {
    const f = await this.conn.error(ms);
    return { message: f.headers.message ?? '', body: f.text, headers: f.headers };
  }
}

export function rawDriver(transport: Transport, version: StompVersion): Driver {
  const label = `raw ${version} over ${transport}`;
  return {
    label,
    lib: 'raw',
    transport,
    version,
    async open(server, token, opts = {}) {
      const conn = await RawConn.open(transport, server, { protocols: [SUBPROTOCOL[version]], binary: true });
      // STOMP 1.0 clients send no accept-version (that is how a server recognises them) and no heart-beat.
      const hb = opts.heartBeat;
      const headers: Record<string, string> =
        version === '1.0'
          ? { login: 'interop', passcode: token }
          : { 'accept-version': version, host: 'chat', login: 'interop', passcode: token, ...(hb ? { 'heart-beat': `${hb[0]},${hb[1]}` } : {}) };
      const f = await conn.connectWith(headers);
      const s = new RawSession(label, conn, f.headers);
      if (hb && hb[0] > 0 && version !== '1.0') {
        // STOMP: the client beats every max(cx, sy), sy being what the server asked to receive.
        const sy = Number((f.headers['heart-beat'] ?? '0,0').split(',')[1] ?? 0);
        if (sy > 0) s.startHeartbeats(Math.max(hb[0], sy));
      }
      return s;
    },
  };
}

// --- stompit ----------------------------------------------------------------------------------------

interface StompitFrame {
  headers: Record<string, string>;
  readString(encoding: string, cb: (err: Error | null, body?: string) => void): void;
}
interface StompitClient {
  headers: Record<string, string>;
  _commandHandlers: Record<string, (this: StompitClient, frame: StompitFrame, cb: unknown) => void>;
  _subscriptions: Record<string, unknown>;
  setCommandHandler(cmd: string, fn: (this: StompitClient, frame: StompitFrame, cb: unknown) => void): void;
  setImplicitSubscription(id: string, ack: string, cb: (err: Error | null, message?: StompitFrame) => void): unknown;
  sendFrame(command: string, headers: Record<string, string>, opts?: { onReceipt?: () => void }): { write(s: string): void; end(cb?: () => void): void };
  ack(message: StompitFrame, headers: Record<string, string>, opts: { onReceipt: () => void }): void;
  nack(message: StompitFrame, headers: Record<string, string>, opts: { onReceipt: () => void }): void;
  disconnect(cb?: (err: Error | null) => void): void;
  destroy(err?: Error): void;
  on(event: 'error', cb: (err: Error) => void): void;
}
interface StompitError extends Error {
  isApplicationError?: () => boolean;
  longMessage?: string;
}
const stompit = require('stompit') as {
  connect(opts: Record<string, unknown>, cb: (err: StompitError | null, client: StompitClient) => void): StompitClient;
};

class StompitSession implements Session {
  readonly messages: Delivered[] = [];
  readonly errors: ReportedError[] = [];
  private closed = false;
  /** RECEIPT headers by receipt id: stompit's onReceipt callbacks get no frame, so the handler is wrapped. */
  private readonly receiptHeaders = new Map<string, Record<string, string>>();

  constructor(
    readonly label: string,
    readonly version: StompVersion,
    readonly client: StompitClient,
    private readonly socketClosed: Promise<void>,
  ) {
    client.on('error', (err: StompitError) => {
      this.closed = true;
      this.errors.push({ message: err.message, body: err.longMessage });
    });
    void socketClosed.then(() => (this.closed = true));
    const original = client._commandHandlers.RECEIPT!;
    const receipts = this.receiptHeaders;
    client.setCommandHandler('RECEIPT', function (frame, cb) {
      receipts.set(String(frame.headers['receipt-id']), { ...frame.headers });
      return original.call(this, frame, cb);
    });
  }

  get connected(): Record<string, string> {
    return this.client.headers;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends a frame with a stompit-managed receipt; resolves with the RECEIPT headers. */
  private withReceipt(command: string, headers: Record<string, string>, body?: string): Promise<Record<string, string>> {
    return withDeadline(
      new Promise<Record<string, string>>((resolve, reject) => {
        const h: Record<string, string> = { ...headers };
        const frame = this.client.sendFrame(command, h, { onReceipt: () => resolve(this.receiptHeaders.get(String(h.receipt)) ?? {}) });
        if (body !== undefined) frame.write(body);
        frame.end();
        void this.socketClosed.then(() =>
          setTimeout(() => reject(new Error(`${this.label}: closed before RECEIPT of ${command}: ${JSON.stringify(this.errors)}`)), 100),
        );
      }),
      30_000,
      `${this.label} ${command} receipt`,
    );
  }

  async subscribe(destination: string, id: string | undefined, ack: AckMode = 'auto'): Promise<void> {
    const sid = id ?? uid('s');
    this.client.setImplicitSubscription(sid, ack, (err, message) => {
      if (err || !message) return;
      message.readString('utf-8', (e, body = '') => {
        if (e) return;
        this.messages.push({ sub: message.headers.subscription!, headers: { ...message.headers }, body, json: safeJson(body), handle: message });
      });
    });
    await this.withReceipt('SUBSCRIBE', { destination, id: sid, ack });
  }

  async unsubscribe(id: string): Promise<void> {
    await this.withReceipt('UNSUBSCRIBE', { id });
    delete this.client._subscriptions[id];
  }

  send(destination: string, body: string, headers: Record<string, string> = {}): Promise<Record<string, string>> {
    return this.withReceipt('SEND', { destination, 'content-type': 'text/plain', ...headers }, body);
  }

  sendNoWait(destination: string, body: string): void {
    const frame = this.client.sendFrame('SEND', { destination });
    frame.write(body);
    frame.end();
  }

  subscribeNoWait(destination: string, id: string, ack: AckMode = 'auto'): void {
    this.client.setImplicitSubscription(id, ack, () => {});
    this.client.sendFrame('SUBSCRIBE', { destination, id, ack }).end();
  }

  ack(m: Delivered): Promise<void> {
    return withDeadline(
      new Promise<void>((resolve) => this.client.ack(m.handle as StompitFrame, {}, { onReceipt: () => resolve() })),
      30_000,
      `${this.label} ACK receipt`,
    );
  }

  nack(m: Delivered): Promise<void> {
    return withDeadline(
      new Promise<void>((resolve) => this.client.nack(m.handle as StompitFrame, {}, { onReceipt: () => resolve() })),
      30_000,
      `${this.label} NACK receipt`,
    );
  }

  async disconnect(): Promise<void> {
    await withDeadline(new Promise<void>((resolve) => this.client.disconnect(() => resolve())), 15_000, `${this.label} disconnect`);
    this.closed = true;
  }

  destroy(): void {
    this.client.destroy();
    this.closed = true;
  }

  async nextError(ms = 20_000): Promise<ReportedError> {
    return waitFor(() => this.errors[0], ms, `${this.label}: an error reported by stompit`);
  }
}

export function stompitDriver(transport: Transport, version: StompVersion): Driver {
  const label = `stompit ${version} over ${transport}`;
  return {
    label,
    lib: 'stompit',
    transport,
    version,
    async open(server, token, opts = {}) {
      let markClosed!: () => void;
      const socketClosed = new Promise<void>((r) => (markClosed = r));
      const hb = opts.heartBeat ?? [0, 0];
      const options: Record<string, unknown> = {
        host: '127.0.0.1',
        port: server.tcpPort,
        timeout: 20_000,
        // stompit cuts the connection when one incoming interval (+ this margin) passes without a byte; the test
        // machine is loaded, so give it the server's own grace.
        heartbeatDelayMargin: opts.incomingMarginMs ?? 2000,
        connectHeaders: { host: 'chat', login: 'interop', passcode: token, 'accept-version': version, 'heart-beat': `${hb[0]},${hb[1]}` },
      };
      if (transport === 'ws') {
        // A WebSocket as a duplex stream: stompit writes frames into it and pipes it into its parser.
        options.connect = (_opts: unknown, onConnected: () => void) => {
          const ws = new WebSocket(server.wsUrl, [SUBPROTOCOL[version]]);
          const stream = createWebSocketStream(ws);
          ws.once('open', onConnected);
          ws.once('close', () => markClosed());
          stream.on('error', () => {});
          return stream;
        };
      }
      const client = await withDeadline(
        new Promise<StompitClient>((resolve, reject) => {
          const c = stompit.connect(options, (err, connected) => (err ? reject(err) : resolve(connected)));
          if (transport === 'tcp') {
            // stompit.connect returns the Client; its transport socket is the net.Socket.
            const sock = (c as unknown as { getTransportSocket(): NodeJS.EventEmitter }).getTransportSocket();
            sock.once('close', () => markClosed());
            // A heart-beat is an EOL alone; stompit hides it, so it is seen on the socket.
            const onBeat = opts.onServerBeat;
            if (onBeat) sock.on('data', (d: Buffer) => d.length === 1 && d[0] === 0x0a && onBeat());
          }
        }),
        30_000,
        `${label} connect`,
      );
      return new StompitSession(label, version, client, socketClosed);
    },
  };
}

// --- @stomp/stompjs ---------------------------------------------------------------------------------

class StompjsSession implements Session {
  readonly messages: Delivered[] = [];
  readonly errors: ReportedError[] = [];
  private closed = false;

  constructor(
    readonly label: string,
    readonly version: StompVersion,
    readonly client: Client,
    readonly connected: Record<string, string>,
  ) {
    client.onStompError = (f) => this.errors.push({ message: f.headers.message ?? '', body: f.body, headers: f.headers as Record<string, string> });
    client.onWebSocketClose = () => (this.closed = true);
    client.onHeartbeatLost = () => this.errors.push({ message: 'heart-beat lost', body: 'no server activity within the tolerance' });
  }

  get isClosed(): boolean {
    return this.closed || !this.client.connected;
  }

  private receipt(): { id: string; got: Promise<Record<string, string>> } {
    const id = uid('js');
    const got = new Promise<Record<string, string>>((resolve) => this.client.watchForReceipt(id, (f) => resolve(f.headers as Record<string, string>)));
    return { id, got: withDeadline(got, 30_000, `${this.label} receipt ${id}`) };
  }

  async subscribe(destination: string, id: string | undefined, ack: AckMode = 'auto'): Promise<void> {
    const r = this.receipt();
    const onMessage = (m: IMessage) => {
      this.messages.push({
        sub: m.headers.subscription!,
        headers: { ...(m.headers as Record<string, string>) },
        body: m.body,
        json: safeJson(m.body),
        handle: m,
      });
    };
    this.client.subscribe(destination, onMessage, { ...(id !== undefined ? { id } : {}), ack, receipt: r.id } as StompHeaders);
    await r.got;
  }

  async unsubscribe(id: string): Promise<void> {
    const r = this.receipt();
    this.client.unsubscribe(id, { receipt: r.id });
    await r.got;
  }

  async send(destination: string, body: string, headers: Record<string, string> = {}): Promise<Record<string, string>> {
    const r = this.receipt();
    this.client.publish({ destination, body, headers: { ...headers, receipt: r.id } });
    return r.got;
  }

  sendNoWait(destination: string, body: string): void {
    this.client.publish({ destination, body });
  }

  subscribeNoWait(destination: string, id: string, ack: AckMode = 'auto'): void {
    this.client.subscribe(destination, () => {}, { id, ack });
  }

  async ack(m: Delivered): Promise<void> {
    const r = this.receipt();
    (m.handle as IMessage).ack({ receipt: r.id });
    await r.got;
  }

  async nack(m: Delivered): Promise<void> {
    const r = this.receipt();
    (m.handle as IMessage).nack({ receipt: r.id });
    await r.got;
  }

  async disconnect(): Promise<void> {
    await withDeadline(this.client.deactivate(), 15_000, `${this.label} deactivate`);
    this.closed = true;
  }

  destroy(): void {
    this.client.forceDisconnect();
    void this.client.deactivate({ force: true });
    this.closed = true;
  }

  async nextError(ms = 20_000): Promise<ReportedError> {
    return waitFor(() => this.errors[0], ms, `${this.label}: an error reported by stompjs`);
  }
}

export function stompjsDriver(version: StompVersion): Driver {
  const label = `@stomp/stompjs ${version} over ws`;
  return {
    label,
    lib: 'stompjs',
    transport: 'ws',
    version,
    async open(server, token, opts = {}) {
      const hb = opts.heartBeat ?? [0, 0];
      const client = new Client({
        webSocketFactory: () => new WebSocket(server.wsUrl, [SUBPROTOCOL[version]]),
        stompVersions: new Versions([version]),
        connectHeaders: { Authorization: `Bearer ${token}` },
        reconnectDelay: 0,
        heartbeatOutgoing: hb[0],
        heartbeatIncoming: hb[1],
        ...(opts.incomingMarginMs !== undefined && hb[1] > 0 ? { heartbeatToleranceMultiplier: 1 + opts.incomingMarginMs / hb[1] } : {}),
        ...(opts.onServerBeat ? { onHeartbeatReceived: opts.onServerBeat } : {}),
      });
      const connected = await withDeadline(
        new Promise<Record<string, string>>((resolve, reject) => {
          client.onConnect = (f) => resolve(f.headers as Record<string, string>);
          client.onStompError = (f) => reject(new Error(`STOMP ERROR ${f.headers.message}: ${f.body}`));
          client.onWebSocketError = () => reject(new Error('websocket error'));
          client.activate();
        }),
        30_000,
        `${label} connect`,
      );
      return new StompjsSession(label, version, client, connected);
    },
  };
}
