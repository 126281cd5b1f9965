// Version-aware raw STOMP connections for interoperability tests: frames are encoded and decoded with the negotiated
// STOMP version (1.0, 1.1 or 1.2, as the codec's `version` says), every byte the server writes is kept for
// byte-exact checks, and a TCP connection can half-close its sending side (what `printf … | nc -q1` does).
import { createConnection, type Socket } from 'node:net';
import WebSocket from 'ws';
import { StompDecoder, encodeFrame, type HeadersInput, type StompVersion } from '../../protocol/index.js';
import { withDeadline } from './cluster.js';

export interface WireFrame {
  command: string;
  headers: Record<string, string>;
  body: Buffer;
  /** Date.now() when the frame was decoded. */
  at: number;
  text: string;
  json: any;
}

let counter = 0;
/** A process-unique id (receipts, subscription ids). */
export const wid = (prefix = 'w'): string => `${prefix}-${process.pid}-${++counter}`;

/** One raw STOMP connection. `version` decides how frames are written and read (default 1.2 until CONNECTED). */
export class WireConn {
  readonly frames: WireFrame[] = [];
  /** Arrival times of heart-beat EOLs (not the EOL our server writes right after each NUL). */
  readonly heartbeats: number[] = [];
  /** Every byte received, in order. */
  received = Buffer.alloc(0);
  decodeError: Error | null = null;
  closedAt: number | null = null;
  readonly closed: Promise<void>;
  closeCode: number | null = null;
  private markClosed!: () => void;
  private readonly decoder: StompDecoder;
  private writeVersion: StompVersion = '1.2';

  private constructor(
    readonly kind: 'tcp' | 'ws',
    readonly socket: Socket | null,
    readonly ws: WebSocket | null,
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
          if (!trailing) this.heartbeats.push(Date.now());
        },
      },
      { commands: 'server', maxFrameBytes: 16 * 1024 * 1024, maxHeaders: 1000, maxHeaderBytes: 64 * 1024 },
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

  private onBytes(chunk: Buffer): void {
    this.received = Buffer.concat([this.received, chunk]);
    if (this.decodeError) return;
    try {
      this.decoder.push(chunk);
    } catch (err) {
      this.decodeError = err as Error;
    }
  }

  private onClose(): void {
    this.closedAt ??= Date.now();
    this.markClosed();
  }

  static tcp(port: number, host = '127.0.0.1'): Promise<WireConn> {
    return withDeadline(
      new Promise<WireConn>((resolve, reject) => {
        // allowHalfOpen: after our end() we keep reading until the server closes.
        const s = createConnection({ host, port, allowHalfOpen: true }, () => {
          s.off('error', reject);
          s.on('error', () => {});
          resolve(c);
        });
        s.setNoDelay(true);
        const c = new WireConn('tcp', s, null);
        s.on('data', (d: Buffer) => c.onBytes(d));
        s.on('end', () => s.end());
        s.on('close', () => c.onClose());
        s.once('error', reject);
      }),
      15_000,
      'tcp connect',
    );
  }

  static ws(url: string, protocols: string[] = ['v12.stomp', 'v11.stomp', 'v10.stomp']): Promise<WireConn> {
    return withDeadline(
      new Promise<WireConn>((resolve, reject) => {
        const ws = new WebSocket(url, protocols);
        const c = new WireConn('ws', null, ws);
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
      'ws connect',
    );
  }

  get isClosed(): boolean {
    return this.closedAt !== null;
  }

  write(data: string | Buffer): void {
    if (this.isClosed) return;
    if (this.socket) {
      if (!this.socket.destroyed && this.socket.writable) this.socket.write(data);
    } else if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(data);
  }

  /** Encodes one frame for the connection's version and writes it. */
  send(command: string, headers: HeadersInput, body?: string | Buffer): void {
    this.write(encodeFrame(command, headers, body, this.writeVersion));
  }

  /** TCP half-close: no more bytes from us; the server may still answer. */
  end(): void {
    this.socket?.end();
  }

  destroy(): void {
    if (this.socket) this.socket.destroy();
    else this.ws?.terminate();
  }

  /**
   * CONNECT with exactly `headers` (no accept-version unless given: a 1.0 CONNECT) and wait for CONNECTED;
   * switches the connection to the negotiated version. Throws on ERROR.
   */
  async connect(headers: Record<string, string>, command = 'CONNECT'): Promise<WireFrame> {
    this.send(command, headers);
    const f = await this.next((x) => x.command === 'CONNECTED' || x.command === 'ERROR', 20_000, 'CONNECTED');
    if (f.command === 'ERROR') throw new Error(`ERROR ${f.headers.message}: ${f.text}`);
    this.version = (f.headers.version ?? '1.0') as StompVersion;
    return f;
  }

  /** The first frame (from index `from`) matching `pred`; fails at once when the connection closes without one. */
  async next(pred: (f: WireFrame) => boolean, ms: number, what: string, from = 0): Promise<WireFrame> {
    const find = () => {
      for (let i = from; i < this.frames.length; i++) if (pred(this.frames[i]!)) return this.frames[i]!;
      return null;
    };
    const deadline = Date.now() + ms;
    for (;;) {
      const f = find();
      if (f) return f;
      if (this.isClosed) throw new Error(`${what}: connection closed without it; frames: ${this.describe()}`);
      if (Date.now() > deadline) throw new Error(`${what}: nothing within ${ms} ms; frames: ${this.describe()}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async receipt(id: string, ms = 30_000): Promise<WireFrame> {
    const f = await this.next((x) => (x.command === 'RECEIPT' && x.headers['receipt-id'] === id) || x.command === 'ERROR', ms, `RECEIPT ${id}`);
    if (f.command === 'ERROR') throw new Error(`ERROR ${f.headers.message} (${f.text}) instead of RECEIPT ${id}`);
    return f;
  }

  error(ms = 20_000): Promise<WireFrame> {
    return this.next((f) => f.command === 'ERROR', ms, 'ERROR');
  }

  /** SUBSCRIBE (without `id` when it is undefined: STOMP 1.0) and wait for its RECEIPT. */
  async subscribe(destination: string, id: string | undefined, receipt = wid('sub'), headers: Record<string, string> = {}): Promise<WireFrame> {
    this.send('SUBSCRIBE', { destination, ...(id !== undefined ? { id } : {}), ...headers, receipt });
    return this.receipt(receipt);
  }

  async unsubscribe(id: string, receipt = wid('unsub')): Promise<WireFrame> {
    this.send('UNSUBSCRIBE', { id, receipt });
    return this.receipt(receipt);
  }

  /** SEND with a receipt; resolves with the RECEIPT's headers. */
  async sendReceipt(destination: string, body: string, receipt = wid('snd'), headers: Record<string, string> = {}): Promise<Record<string, string>> {
    this.send('SEND', { destination, ...headers, receipt }, body);
    return (await this.receipt(receipt)).headers;
  }

  messages(pred: (f: WireFrame) => boolean = () => true): WireFrame[] {
    return this.frames.filter((f) => f.command === 'MESSAGE' && pred(f));
  }

  async waitClosed(ms: number, since = Date.now()): Promise<number> {
    await withDeadline(this.closed, ms, `connection close (frames: ${this.describe()})`);
    return this.closedAt! - since;
  }

  /** true when `bytes` occur in what the server wrote. */
  receivedContains(bytes: string): boolean {
    return this.received.includes(Buffer.from(bytes, 'utf8'));
  }

  describe(): string {
    const list = this.frames.map((f) => `${f.command}${f.headers.message ? `(${f.headers.message})` : ''}${f.headers['receipt-id'] ? `[${f.headers['receipt-id']}]` : ''}`);
    return `[${list.slice(-16).join(', ')}]${this.decodeError ? ` decodeError=${this.decodeError.message}` : ''}`;
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
