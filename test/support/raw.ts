// Raw STOMP connections for protocol, interoperability and abuse tests: bytes out exactly as written, frames
// encoded and decoded with the connection's STOMP version (1.0, 1.1 or 1.2), every byte the server writes kept for
// byte-exact checks, every server frame and heart-beat recorded with its arrival time, over plain TCP (which can
// half-close its sending side, as `printf … | nc -q1` does) or over WebSocket (the `ws` package directly).
// The transport is scripts/stomp/socket.ts, shared with the CLI and the bench clients. Fuzzing helpers, stream
// scanning, statistics, metric scraping and bystanders are modules of their own beside this one.
import type { Socket } from 'node:net';
import type WebSocket from 'ws';
import { StompDecoder, encodeFrame, type HeadersInput, type StompVersion } from '../../protocol/index.js';
import { StompSocket, subprotocols, type SocketTarget } from '../../scripts/stomp/socket.js';
import { withDeadline } from './cluster.js';

export interface ServerFrame {
  command: string;
  headers: Record<string, string>;
  body: Buffer;
  /** Date.now() when the frame was decoded. */
  at: number;
  /** body as UTF-8 text */
  text: string;
  /** body parsed as JSON, or undefined when it is not JSON */
  json: any;
}

export interface RawOptions {
  /** WebSocket sub-protocols to offer (default ['v12.stomp']; {@link ALL_SUBPROTOCOLS}: every version). */
  protocols?: string[];
  /** WebSocket: send every message as binary (default false: text). */
  binary?: boolean;
  /** The source address to connect from (any 127.x.y.z on loopback): per-address limits then count only it. */
  localAddress?: string;
}

/** The WebSocket sub-protocols of a client that speaks every STOMP version. */
export const ALL_SUBPROTOCOLS = subprotocols('1.2');

let seqCounter = 0;
/** A process-unique id for receipts and subscriptions. */
export const uid = (prefix = 'r'): string => `${prefix}-${process.pid}-${++seqCounter}`;

/**
 * A raw STOMP connection (TCP or WebSocket). Incoming bytes are kept and decoded as server frames; `version`
 * (1.2 until a CONNECTED says otherwise) decides how frames are written and read.
 */
export class RawConn {
  readonly frames: ServerFrame[] = [];
  /** Arrival times of heart-beat EOLs (not the EOL the server writes right after each NUL). */
  readonly heartbeats: number[] = [];
  /** How many bytes the server wrote. */
  receivedBytes = 0;
  decodeError: Error | null = null;
  closedAt: number | null = null;
  readonly openedAt = Date.now();
  readonly closed: Promise<void>;
  /** WebSocket close code (ws transport only). */
  closeCode: number | null = null;
  private chunks: Buffer[] = [];
  private writeVersion: StompVersion = '1.2';
  private readonly decoder: StompDecoder;
  /** Checks of pending next() calls, run after every batch of bytes and on close. */
  private readonly waiters = new Set<() => void>();
  private markClosed!: () => void;
  private transport!: StompSocket;

  private constructor() {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    this.decoder = new StompDecoder(
      {
        onFrame: (f) => {
          const text = f.body.toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          this.frames.push({ command: f.command, headers: { ...f.headers }, body: Buffer.from(f.body), at: Date.now(), text, json });
        },
        onHeartbeat: (trailing) => {
          // The EOL the server writes after every frame is not a heart-beat.
          if (!trailing) this.heartbeats.push(Date.now());
        },
      },
      { commands: 'server', maxFrameBytes: 64 * 1024 * 1024, maxHeaders: 10_000, maxHeaderBytes: 1024 * 1024 },
    );
  }

  /** The STOMP version used to write and read frames; set it to the CONNECTED `version` (connect() does). */
  get version(): StompVersion {
    return this.writeVersion;
  }

  set version(v: StompVersion) {
    this.writeVersion = v;
    this.decoder.version = v;
  }

  /** Every byte the server wrote, in order. */
  get received(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private onBytes(chunk: Buffer): void {
    this.receivedBytes += chunk.length;
    this.chunks.push(chunk);
    if (!this.decodeError) {
      try {
        this.decoder.push(chunk);
      } catch (err) {
        this.decodeError = err as Error;
      }
    }
    this.wake();
  }

  private onClose(code: number | null): void {
    if (code !== null) this.closeCode = code;
    this.closedAt ??= Date.now();
    this.markClosed();
    this.wake();
  }

  private wake(): void {
    for (const check of [...this.waiters]) check();
  }

  /** Opens a connection to `target` (TCP half-open: after our end() we keep reading until the server closes). */
  private static async openTarget(target: SocketTarget): Promise<RawConn> {
    const c = new RawConn();
    c.transport = await StompSocket.open(target, { onData: (d) => c.onBytes(d), onClose: (code) => c.onClose(code) });
    return c;
  }

  static tcp(port: number, opts: RawOptions = {}): Promise<RawConn> {
    return RawConn.openTarget({ kind: 'tcp', host: '127.0.0.1', port, allowHalfOpen: true, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  }

  /** Rejects when the server refuses the upgrade (e.g. 503 over a per-address limit). */
  static ws(url: string, opts: RawOptions = {}): Promise<RawConn> {
    const local = opts.localAddress ? { localAddress: opts.localAddress } : {};
    return RawConn.openTarget({ kind: 'ws', url, protocols: opts.protocols ?? ['v12.stomp'], binary: opts.binary ?? false, ...local });
  }

  static open(kind: 'tcp' | 'ws', server: { tcpPort: number; wsUrl: string }, opts: RawOptions = {}): Promise<RawConn> {
    return kind === 'tcp' ? RawConn.tcp(server.tcpPort, opts) : RawConn.ws(server.wsUrl, opts);
  }

  get kind(): 'tcp' | 'ws' {
    return this.transport.kind;
  }

  get socket(): Socket | null {
    return this.transport.socket;
  }

  get ws(): WebSocket | null {
    return this.transport.ws;
  }

  get isClosed(): boolean {
    return this.closedAt !== null;
  }

  /** Writes bytes as they are (TCP: one write; WebSocket: one message, text unless `binary`). */
  write(data: string | Buffer, binary?: boolean): void {
    if (!this.isClosed) this.transport.write(data, binary);
  }

  /** Resolves when the bytes are handed to the kernel (TCP) or the WebSocket send completed, or the connection is gone. */
  writeAsync(data: string | Buffer): Promise<void> {
    return this.isClosed ? Promise.resolve() : this.transport.writeAsync(data);
  }

  /** Encodes one frame for the connection's version and writes it. */
  send(command: string, headers: HeadersInput, body?: string | Buffer): void {
    this.write(encodeFrame(command, headers, body, this.writeVersion));
  }

  /** TCP half-close: no more bytes from us; the server may still answer. */
  end(): void {
    this.transport.end();
  }

  /**
   * CONNECT (or STOMP) as this server's clients do: accept-version 1.2, host `/`, the token as
   * `Authorization: Bearer` (none when null), then `headers`. Waits for CONNECTED; throws on ERROR.
   */
  connect(token: string | null, headers: Record<string, string> = {}, command = 'CONNECT'): Promise<ServerFrame> {
    return this.connectWith({ 'accept-version': '1.2', host: '/', ...(token !== null ? { Authorization: `Bearer ${token}` } : {}), ...headers }, command);
  }

  /**
   * CONNECT with exactly `headers` (no accept-version unless given: a 1.0 CONNECT) and wait for CONNECTED;
   * switches the connection to the negotiated version. Throws on ERROR.
   */
  async connectWith(headers: Record<string, string>, command = 'CONNECT'): Promise<ServerFrame> {
    this.send(command, headers);
    const f = await this.next((x) => x.command === 'CONNECTED' || x.command === 'ERROR', 20_000, 'CONNECTED');
    if (f.command === 'ERROR') throw new Error(`ERROR ${f.headers.message}: ${f.text}`);
    this.version = (f.headers.version ?? '1.0') as StompVersion;
    return f;
  }

  /** The first recorded frame (from index `from`) matching `pred`; fails at once when the connection closes without one. */
  next(pred: (f: ServerFrame) => boolean, ms: number, what: string, from = 0): Promise<ServerFrame> {
    return new Promise((resolve, reject) => {
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      const check = () => {
        for (let i = from; i < this.frames.length; i++) if (pred(this.frames[i]!)) return finish(() => resolve(this.frames[i]!));
        if (this.isClosed) finish(() => reject(new Error(`${what}: connection closed without it; frames: ${this.describe()}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`${what}: nothing within ${ms} ms; frames: ${this.describe()}`))), ms);
      this.waiters.add(check);
      check();
    });
  }

  /** The RECEIPT `id` (fails on an ERROR instead). */
  async receipt(id: string, ms = 30_000): Promise<ServerFrame> {
    const f = await this.next((x) => (x.command === 'RECEIPT' && x.headers['receipt-id'] === id) || x.command === 'ERROR', ms, `RECEIPT ${id}`);
    if (f.command === 'ERROR') throw new Error(`ERROR ${f.headers.message} (${f.text}) instead of RECEIPT ${id}`);
    return f;
  }

  error(ms = 20_000): Promise<ServerFrame> {
    return this.next((f) => f.command === 'ERROR', ms, 'ERROR');
  }

  /** Sends a frame with a receipt (`headers.receipt`, or a fresh one) and waits for the RECEIPT. */
  frameWithReceipt(command: string, headers: Record<string, string>, body?: string | Buffer): Promise<ServerFrame> {
    const receipt = headers.receipt ?? uid(command.toLowerCase());
    this.send(command, { ...headers, receipt }, body);
    return this.receipt(receipt);
  }

  /** SUBSCRIBE (without `id` when it is undefined: STOMP 1.0); resolves when the server confirmed it. */
  subscribe(destination: string, id: string | undefined, headers: Record<string, string> = {}): Promise<ServerFrame> {
    return this.frameWithReceipt('SUBSCRIBE', { destination, ...(id !== undefined ? { id } : {}), ...headers });
  }

  /** UNSUBSCRIBE by `id` (or, STOMP 1.0, by the `destination` in `headers`) and wait for its RECEIPT. */
  unsubscribe(id: string | undefined, headers: Record<string, string> = {}): Promise<ServerFrame> {
    return this.frameWithReceipt('UNSUBSCRIBE', { ...(id !== undefined ? { id } : {}), ...headers });
  }

  /** SEND with a receipt; resolves with the RECEIPT frame. */
  sendWithReceipt(destination: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<ServerFrame> {
    return this.frameWithReceipt('SEND', { destination, ...headers }, body);
  }

  messages(pred: (f: ServerFrame) => boolean = () => true): ServerFrame[] {
    return this.frames.filter((f) => f.command === 'MESSAGE' && pred(f));
  }

  /** Waits until the peer closed the connection; returns ms from `since` (default: now) to the close. */
  async waitClosed(ms: number, since = Date.now()): Promise<number> {
    await withDeadline(this.closed, ms, `connection close (frames: ${this.describe()})`);
    return this.closedAt! - since;
  }

  /** true when `bytes` occur in what the server wrote. */
  receivedContains(bytes: string): boolean {
    return this.received.includes(Buffer.from(bytes, 'utf8'));
  }

  /** Stops reading (the kernel buffers fill and the peer's writes back up). */
  pause(): void {
    this.transport.pause();
  }

  resume(): void {
    this.transport.resume();
  }

  destroy(): void {
    this.transport.destroy();
  }

  describe(): string {
    const list = this.frames.map(
      (f) => `${f.command}${f.headers.message ? `(${f.headers.message})` : ''}${f.headers['receipt-id'] ? `[${f.headers['receipt-id']}]` : ''}`,
    );
    return `[${list.slice(-16).join(', ')}]${this.isClosed ? ' closed' : ''}${this.decodeError ? ` decodeError=${this.decodeError.message}` : ''}`;
  }
}
