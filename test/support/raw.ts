// Raw STOMP connections for protocol, interoperability and abuse tests: bytes out exactly as written, frames
// encoded and decoded with the connection's STOMP version (1.0, 1.1 or 1.2), every byte the server writes kept for
// byte-exact checks, every server frame and heart-beat recorded with its arrival time, over plain TCP (which can
// half-close its sending side, as `printf … | nc -q1` does) or over WebSocket (the `ws` package directly).
import { createConnection, type Socket } from 'node:net';
import WebSocket from 'ws';
import { StompDecoder, encodeFrame, type HeadersInput, type StompVersion } from '../../protocol/index.js';
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
export const ALL_SUBPROTOCOLS = ['v12.stomp', 'v11.stomp', 'v10.stomp'];

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

  private constructor(
    readonly kind: 'tcp' | 'ws',
    readonly socket: Socket | null,
    readonly ws: WebSocket | null,
    private readonly binary: boolean,
  ) {
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

  private onClose(): void {
    this.closedAt ??= Date.now();
    this.markClosed();
    this.wake();
  }

  private wake(): void {
    for (const check of [...this.waiters]) check();
  }

  static tcp(port: number, opts: RawOptions = {}): Promise<RawConn> {
    return withDeadline(
      new Promise<RawConn>((resolve, reject) => {
        // allowHalfOpen: after our end() we keep reading until the server closes.
        const s = createConnection({ host: '127.0.0.1', port, allowHalfOpen: true, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) }, () => {
          s.off('error', reject);
          s.on('error', () => {});
          resolve(c);
        });
        s.setNoDelay(true);
        const c = new RawConn('tcp', s, null, false);
        s.on('data', (d: Buffer) => c.onBytes(d));
        s.on('end', () => s.end());
        s.on('close', () => c.onClose());
        s.once('error', reject);
      }),
      15_000,
      'raw tcp connect',
    );
  }

  /** Rejects when the server refuses the upgrade (e.g. 503 over a per-address limit). */
  static ws(url: string, opts: RawOptions = {}): Promise<RawConn> {
    return withDeadline(
      new Promise<RawConn>((resolve, reject) => {
        const ws = new WebSocket(url, opts.protocols ?? ['v12.stomp'], opts.localAddress ? { localAddress: opts.localAddress } : {});
        const c = new RawConn('ws', null, ws, opts.binary ?? false);
        ws.on('message', (data) => c.onBytes(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer)));
        ws.on('close', (code) => {
          c.closeCode = code;
          c.onClose();
        });
        ws.once('open', () => {
          ws.off('error', reject);
          ws.on('error', () => {});
          resolve(c);
        });
        ws.once('error', reject);
      }),
      15_000,
      'raw ws connect',
    );
  }

  static open(kind: 'tcp' | 'ws', server: { tcpPort: number; wsUrl: string }, opts: RawOptions = {}): Promise<RawConn> {
    return kind === 'tcp' ? RawConn.tcp(server.tcpPort, opts) : RawConn.ws(server.wsUrl, opts);
  }

  get isClosed(): boolean {
    return this.closedAt !== null;
  }

  /** Writes bytes as they are (TCP: one write; WebSocket: one message, text unless `binary`). */
  write(data: string | Buffer, binary = this.binary): void {
    if (this.isClosed) return;
    if (this.socket) {
      if (!this.socket.destroyed && this.socket.writable) this.socket.write(data);
    } else if (this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(data, { binary });
    }
  }

  /** Resolves when the bytes are handed to the kernel (TCP) or the WebSocket send completed, or the connection is gone. */
  writeAsync(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.isClosed) return resolve();
      if (this.socket) {
        if (this.socket.destroyed || !this.socket.writable) return resolve();
        this.socket.write(data, () => resolve());
      } else if (this.ws?.readyState === WebSocket.OPEN) {
        this.ws.send(data, { binary: this.binary }, () => resolve());
      } else resolve();
    });
  }

  /** Encodes one frame for the connection's version and writes it. */
  send(command: string, headers: HeadersInput, body?: string | Buffer): void {
    this.write(encodeFrame(command, headers, body, this.writeVersion));
  }

  /** TCP half-close: no more bytes from us; the server may still answer. */
  end(): void {
    this.socket?.end();
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
    if (this.socket) this.socket.pause();
    else (this.ws as unknown as { _socket: Socket })._socket.pause();
  }

  resume(): void {
    if (this.socket) this.socket.resume();
    else (this.ws as unknown as { _socket: Socket })._socket.resume();
  }

  destroy(): void {
    if (this.socket) this.socket.destroy();
    else this.ws?.terminate();
  }

  describe(): string {
    const list = this.frames.map((f) => `${f.command}${f.headers.message ? `(${f.headers.message})` : ''}${f.headers['receipt-id'] ? `[${f.headers['receipt-id']}]` : ''}`);
    return `[${list.slice(-16).join(', ')}]${this.isClosed ? ' closed' : ''}${this.decodeError ? ` decodeError=${this.decodeError.message}` : ''}`;
  }
}

export interface ScannedFrame {
  command: string;
  /** Offset of the frame's NUL in the stream. */
  nulAt: number;
  /** The byte after the NUL (-1: end of stream). */
  after: number;
}

/**
 * Splits a server byte stream into frames independently of the codec (EOLs between frames skipped; a body ends at
 * `content-length` when present, else at the first NUL) and reports, for each frame, the byte after its NUL.
 * Throws on anything it cannot frame.
 */
export function scanFrames(buf: Buffer): ScannedFrame[] {
  const out: ScannedFrame[] = [];
  let p = 0;
  while (p < buf.length) {
    if (buf[p] === 0x0a) {
      p++;
      continue;
    }
    if (buf[p] === 0x0d && buf[p + 1] === 0x0a) {
      p += 2;
      continue;
    }
    const headEnd = buf.indexOf('\n\n', p);
    if (headEnd < 0) throw new Error(`unterminated frame head at byte ${p}: ${JSON.stringify(buf.subarray(p, p + 80).toString())}`);
    const head = buf.subarray(p, headEnd).toString('utf8').split('\n');
    const command = head[0]!;
    const cl = head.slice(1).find((l) => l.startsWith('content-length:'));
    const bodyStart = headEnd + 2;
    const nulAt = cl !== undefined ? bodyStart + Number(cl.slice('content-length:'.length)) : buf.indexOf(0, bodyStart);
    if (nulAt < 0 || nulAt >= buf.length) throw new Error(`frame ${command} at byte ${p} has no NUL`);
    if (buf[nulAt] !== 0) throw new Error(`frame ${command} at byte ${p}: byte after the body is ${buf[nulAt]}, not NUL`);
    out.push({ command, nulAt, after: nulAt + 1 < buf.length ? buf[nulAt + 1]! : -1 });
    p = nulAt + 1;
  }
  return out;
}

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

/** Flips, inserts and deletes a few random bytes of `frame`. */
export function mutate(rand: () => number, frame: Buffer): Buffer {
  const bytes = [...frame];
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const op = Math.floor(rand() * 3);
    const at = Math.floor(rand() * (bytes.length + 1));
    if (op === 0 && bytes.length > 0) {
      const i = Math.min(at, bytes.length - 1);
      bytes[i] = bytes[i]! ^ (1 << Math.floor(rand() * 8));
    } else if (op === 1) {
      bytes.splice(at, 0, Math.floor(rand() * 256));
    } else if (bytes.length > 0) {
      bytes.splice(Math.min(at, bytes.length - 1), 1);
    }
  }
  return Buffer.from(bytes);
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

/** Reads several metrics in one scrape: the first sample of each name (any labels). */
export async function scrape(baseUrl: string, names: readonly string[]): Promise<Record<string, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && names.includes(m[1]!) && out[m[1]!] === undefined) out[m[1]!] = Number(m[3]);
  }
  return out;
}

/** Reads a sample value of a Prometheus metric (first series whose labels contain `labels`). */
export async function metric(baseUrl: string, name: string, labels = ''): Promise<number> {
  const res = await fetch(`${baseUrl}/metrics`);
  const text = await res.text();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    if (labels && !(m[2] ?? '').includes(labels)) continue;
    return Number(m[3]);
  }
  return 0;
}

/**
 * A bystander: one session that, every `everyMs`, sends a chat message to its own room and waits for it to come
 * back as a MESSAGE (the whole pipeline: gateway, Kafka, broadcast consumer, Redis, gateway), and also sends a
 * `typing` event to one of its event rooms and waits for the relayed event (gateway, Redis, gateway: no Kafka, so
 * no consumer-group stalls caused by other processes). Typing is limited to one per room per second, so the
 * typing pings cycle over `typingRooms` (12 rooms at 100 ms: each room every 1.2 s).
 */
export class Bystander {
  /** Chat message round trips (ms). */
  readonly latencies: number[] = [];
  /** Typing event round trips (ms). */
  readonly typingLatencies: number[] = [];
  sent = 0;
  failures: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly pending = new Map<string, number>();
  private readonly pendingTyping = new Map<string, number>();
  private readonly typingReturnedAt = new Map<string, number>();
  private n = 0;

  private constructor(
    readonly conn: RawConn,
    readonly roomId: string,
    readonly typingRooms: string[],
    readonly label: string,
  ) {}

  static async start(
    server: { tcpPort: number; wsUrl: string },
    token: string,
    roomId: string,
    typingRooms: string[],
    kind: 'tcp' | 'ws' = 'ws',
  ): Promise<Bystander> {
    const conn = await RawConn.open(kind, server);
    await conn.connect(token);
    const b = new Bystander(conn, roomId, typingRooms, kind);
    await conn.subscribe(`/topic/rooms.${roomId}`, 'bystander');
    for (const r of typingRooms) await conn.subscribe(`/topic/rooms.${r}.events`, `ev-${r}`);
    return b;
  }

  private check(): void {
    for (const f of this.conn.frames.splice(0)) {
      if (f.command === 'ERROR') this.failures.push(`ERROR ${f.headers.message}: ${f.text}`);
      if (f.command !== 'MESSAGE') continue;
      if (f.headers['event-type'] === 'typing') {
        const room = /^\/topic\/rooms\.(\d+)\.events$/.exec(f.headers.destination ?? '')?.[1];
        const t0 = room === undefined ? undefined : this.pendingTyping.get(room);
        if (t0 !== undefined) {
          this.pendingTyping.delete(room!);
          this.typingReturnedAt.set(room!, f.at);
          this.typingLatencies.push(f.at - t0);
        }
        continue;
      }
      const content = f.json?.content as string | undefined;
      const t0 = content === undefined ? undefined : this.pending.get(content);
      if (t0 !== undefined) {
        this.pending.delete(content!);
        this.latencies.push(f.at - t0);
      }
    }
  }

  run(everyMs = 100): void {
    this.timer = setInterval(() => {
      this.check();
      if (this.conn.isClosed) return;
      const now = Date.now();
      const content = `${this.label}-ping-${++this.n}`;
      this.pending.set(content, now);
      this.sent++;
      this.conn.send('SEND', { destination: `/topic/rooms.${this.roomId}`, 'content-type': 'text/plain' }, content);
      const room = this.typingRooms[this.n % this.typingRooms.length]!;
      // One outstanding typing ping per room, sent at least 1 s after the previous one came back: the server
      // handled that one before it came back, so it cannot drop this one as a repeat within its 1 s limit.
      if (!this.pendingTyping.has(room) && now - (this.typingReturnedAt.get(room) ?? 0) >= 1000) {
        this.pendingTyping.set(room, now);
        this.conn.send('SEND', { destination: `/topic/rooms.${room}.events` }, 'typing');
      }
    }, everyMs);
  }

  /** Stops pinging and waits (bounded) for outstanding round trips; pings never answered count as 10 s. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const deadline = Date.now() + 10_000;
    while ((this.pending.size > 0 || this.pendingTyping.size > 0) && Date.now() < deadline && !this.conn.isClosed) {
      await new Promise((r) => setTimeout(r, 20));
      this.check();
    }
    for (const _ of this.pending.values()) this.latencies.push(10_000);
    for (const _ of this.pendingTyping.values()) this.typingLatencies.push(10_000);
    this.pending.clear();
    this.pendingTyping.clear();
  }

  stats(): { message: LatencyStats; typing: LatencyStats } {
    return { message: latencyStats(this.latencies), typing: latencyStats(this.typingLatencies) };
  }

  reset(): void {
    this.latencies.length = 0;
    this.typingLatencies.length = 0;
  }
}

export interface LatencyStats {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export function latencyStats(xs: readonly number[]): LatencyStats {
  return { count: xs.length, p50: percentile(xs, 50), p99: percentile(xs, 99), max: xs.length ? Math.max(...xs) : NaN };
}
