// Raw STOMP connections for protocol and abuse tests: bytes out exactly as written, every server frame and
// heart-beat recorded with its arrival time, over plain TCP or over WebSocket (the `ws` package directly).
import { createConnection, type Socket } from 'node:net';
import WebSocket from 'ws';
import { StompDecoder, encodeFrame, type HeadersInput } from '../../protocol/index.js';
import { waitFor, withDeadline } from './cluster.js';

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
  /** WebSocket sub-protocols to offer (default ['v12.stomp']). */
  protocols?: string[];
  /** WebSocket: send frames as binary messages (default false: text). */
  binary?: boolean;
}

let seqCounter = 0;
/** A process-unique id for receipts and subscriptions. */
export const uid = (prefix = 'r'): string => `${prefix}-${process.pid}-${++seqCounter}`;

/** A raw STOMP connection (TCP or WebSocket). Incoming bytes are decoded as server frames. */
export class RawConn {
  readonly frames: ServerFrame[] = [];
  /** Arrival times of heart-beat EOLs (between frames, including right after a NUL). */
  readonly heartbeats: number[] = [];
  /** Raw bytes received (capped at 4 MiB, for debugging and byte-exact checks). */
  received = Buffer.alloc(0);
  receivedBytes = 0;
  decodeError: Error | null = null;
  closedAt: number | null = null;
  readonly openedAt = Date.now();
  readonly closed: Promise<void>;
  /** WebSocket close code (ws transport only). */
  closeCode: number | null = null;
  private readonly decoder: StompDecoder;
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

  private onBytes(chunk: Buffer): void {
    this.receivedBytes += chunk.length;
    if (this.received.length < 4 * 1024 * 1024) this.received = Buffer.concat([this.received, chunk]);
    if (this.decodeError) return;
    try {
      this.decoder.push(chunk);
    } catch (err) {
      this.decodeError = err as Error;
    }
  }

  private onClose(): void {
    if (this.closedAt === null) this.closedAt = Date.now();
    this.markClosed();
  }

  static tcp(port: number): Promise<RawConn> {
    return withDeadline(
      new Promise<RawConn>((resolve, reject) => {
        const s = createConnection({ host: '127.0.0.1', port }, () => {
          s.off('error', reject);
          s.on('error', () => {});
          resolve(c);
        });
        s.setNoDelay(true);
        const c = new RawConn('tcp', s, null, false);
        s.on('data', (d: Buffer) => c.onBytes(d));
        s.on('close', () => c.onClose());
        s.once('error', reject);
      }),
      10_000,
      'raw tcp connect',
    );
  }

  static ws(url: string, opts: RawOptions = {}): Promise<RawConn> {
    return withDeadline(
      new Promise<RawConn>((resolve, reject) => {
        const ws = new WebSocket(url, opts.protocols ?? ['v12.stomp']);
        const c = new RawConn('ws', null, ws, opts.binary ?? false);
        ws.on('message', (data) => {
          const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
          c.onBytes(chunk);
        });
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
      10_000,
      'raw ws connect',
    );
  }

  static open(kind: 'tcp' | 'ws', server: { tcpPort: number; wsUrl: string }, opts: RawOptions = {}): Promise<RawConn> {
    return kind === 'tcp' ? RawConn.tcp(server.tcpPort) : RawConn.ws(server.wsUrl, opts);
  }

  get isClosed(): boolean {
    return this.closedAt !== null;
  }

  /** Writes bytes as they are (TCP: one write; WebSocket: one message, text unless `binary`). */
  write(data: string | Buffer, binary = this.binary): void {
    if (this.isClosed) return;
    if (this.socket) {
      if (!this.socket.destroyed) this.socket.write(data);
    } else if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(data, { binary });
    }
  }

  /** Resolves when the bytes are handed to the kernel (TCP) or the WebSocket send completed. */
  writeAsync(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.isClosed) return resolve();
      if (this.socket) {
        if (this.socket.destroyed) return resolve();
        this.socket.write(data, () => resolve());
      } else if (this.ws && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(data, { binary: this.binary }, () => resolve());
      } else resolve();
    });
  }

  /** Encodes and writes one frame. */
  send(command: string, headers: HeadersInput, body?: string | Buffer): void {
    this.write(encodeFrame(command, headers, body));
  }

  /** CONNECT (or STOMP) and wait for CONNECTED; throws on ERROR. */
  async connect(token: string | null, headers: Record<string, string> = {}, command = 'CONNECT'): Promise<ServerFrame> {
    this.send(command, {
      'accept-version': '1.2',
      host: '/',
      ...(token !== null ? { Authorization: `Bearer ${token}` } : {}),
      ...headers,
    });
    const f = await this.next((x) => x.command === 'CONNECTED' || x.command === 'ERROR', 15_000, 'CONNECTED');
    if (f.command === 'ERROR') throw new Error(`ERROR ${f.headers.message}: ${f.text}`);
    return f;
  }

  /** The first recorded frame (from `from`) matching `pred`, waiting up to `ms`. */
  async next(pred: (f: ServerFrame) => boolean, ms: number, what: string, from = 0): Promise<ServerFrame> {
    return waitFor(
      () => {
        for (let i = from; i < this.frames.length; i++) if (pred(this.frames[i]!)) return this.frames[i]!;
        if (this.isClosed) throw new Error(`connection closed; frames: ${this.describe()}`);
        return null;
      },
      ms,
      what,
      5,
    ).catch((err: Error) => {
      // One last look: the frame may have arrived together with the close.
      for (let i = from; i < this.frames.length; i++) if (pred(this.frames[i]!)) return this.frames[i]!;
      throw new Error(`${what}: ${err.message}; frames: ${this.describe()}`);
    });
  }

  receipt(id: string, ms = 20_000): Promise<ServerFrame> {
    return this.next((f) => (f.command === 'RECEIPT' && f.headers['receipt-id'] === id) || f.command === 'ERROR', ms, `RECEIPT ${id}`).then(
      (f) => {
        if (f.command === 'ERROR') throw new Error(`ERROR ${f.headers.message} (${f.text}) instead of RECEIPT ${id}`);
        return f;
      },
    );
  }

  error(ms = 15_000): Promise<ServerFrame> {
    return this.next((f) => f.command === 'ERROR', ms, 'ERROR');
  }

  /** SUBSCRIBE with a receipt; resolves when the server confirmed it. */
  async subscribe(destination: string, id: string, headers: Record<string, string> = {}): Promise<ServerFrame> {
    const r = uid('sub');
    this.send('SUBSCRIBE', { destination, id, receipt: r, ...headers });
    return this.receipt(r);
  }

  /** SEND with a receipt; resolves with the RECEIPT frame. */
  async sendWithReceipt(destination: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<ServerFrame> {
    const r = uid('snd');
    this.send('SEND', { destination, receipt: r, ...headers }, body);
    return this.receipt(r);
  }

  messages(pred: (f: ServerFrame) => boolean = () => true): ServerFrame[] {
    return this.frames.filter((f) => f.command === 'MESSAGE' && pred(f));
  }

  /** Waits until the peer closed the connection; returns ms from `since` (default: now) to the close. */
  async waitClosed(ms: number, since = Date.now()): Promise<number> {
    await withDeadline(this.closed, ms, `connection close (frames: ${this.describe()})`);
    return this.closedAt! - since;
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
    return `[${list.slice(-12).join(', ')}]${this.decodeError ? ` decodeError=${this.decodeError.message}` : ''}`;
  }
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
