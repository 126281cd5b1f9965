// The CLI's STOMP session over the shared byte stream (socket.ts): CONNECT with the negotiated version, frames
// awaited by receipt, heart-beats both ways, ACK as each version spells it, DISCONNECT with a receipt.
import { StompDecoder, encodeFrame } from '../../protocol/index.js';
import type { Frame, HeadersInput, StompVersion } from '../../protocol/index.js';
import { StompFailure, type Options } from './args.js';
import { RawPrinter, redacted } from './output.js';
import { StompSocket, subprotocols } from './socket.js';

type Waiter = { match: (f: Frame) => boolean; resolve: (f: Frame) => void };

export class StompConnection {
  version: StompVersion = '1.2';
  connected: Frame | null = null;
  onMessage: ((f: Frame) => void) | null = null;
  /** Called once when the connection fails (ERROR frame or close while not expected). */
  onFailure: ((err: StompFailure) => void) | null = null;
  private readonly decoder: StompDecoder;
  private readonly waiters: Waiter[] = [];
  private socket: StompSocket | null = null;
  private rawIn = new RawPrinter('<<<');
  private rawOut = new RawPrinter('>>>');
  private closing = false;
  private failed = false;
  /** The transport opened (before that, a failure rejects open() instead). */
  private isOpen = false;
  private lastReceived = Date.now();
  private timers: NodeJS.Timeout[] = [];
  private receiptCounter = 0;

  constructor(private readonly opts: Options) {
    this.decoder = new StompDecoder(
      { onFrame: (f) => this.onFrame(f) },
      { commands: 'server', maxFrameBytes: 16 * 1024 * 1024, maxHeaders: 1000, maxHeaderBytes: 64 * 1024 },
    );
  }

  /** Opens the transport (TCP or WebSocket, offering the chosen version's sub-protocol first). */
  async open(): Promise<void> {
    const { tcp } = this.opts;
    const target = tcp
      ? { kind: 'tcp' as const, ...tcp }
      : { kind: 'ws' as const, url: wsUrl(this.opts.url), protocols: subprotocols(this.opts.version), binary: true };
    this.socket = await StompSocket.open(target, {
      onData: (d) => this.onBytes(d),
      onClose: () => this.onClosed(),
      onError: (err) => this.fail(new StompFailure(`${tcp ? 'connection' : 'WebSocket'} error: ${err.message}`)),
    });
    this.isOpen = true;
  }

  private onBytes(chunk: Buffer): void {
    this.lastReceived = Date.now();
    if (this.opts.raw) this.rawIn.print(chunk);
    try {
      this.decoder.push(chunk);
    } catch (err) {
      this.fail(new StompFailure(`unreadable frame from the server: ${(err as Error).message}`));
    }
  }

  private onFrame(f: Frame): void {
    if (f.command === 'CONNECTED') {
      // From here on headers are written and read as the negotiated version says (CONNECTED itself never escapes).
      this.version = (f.headers.version ?? '1.0') as StompVersion;
      this.decoder.version = this.version;
    }
    if (f.command === 'ERROR') {
      this.fail(new StompFailure(`ERROR ${f.headers.message ?? '(no message header)'}`, f));
      return;
    }
    const i = this.waiters.findIndex((w) => w.match(f));
    if (i !== -1) {
      const [w] = this.waiters.splice(i, 1);
      w!.resolve(f);
      return;
    }
    if (f.command === 'MESSAGE') this.onMessage?.(f);
  }

  private onClosed(): void {
    this.rawIn.flush();
    for (const t of this.timers) clearInterval(t);
    if (!this.closing && this.isOpen) this.fail(new StompFailure('the server closed the connection'));
  }

  private fail(err: StompFailure): void {
    if (this.failed) return;
    this.failed = true;
    this.closing = true;
    this.onFailure?.(err);
  }

  send(command: string, headers: HeadersInput, body?: string): void {
    const bytes = encodeFrame(command, headers, body, this.version);
    if (this.opts.raw) {
      const shown = Array.isArray(headers) ? headers : redacted(headers as Record<string, string>);
      this.rawOut.print(command === 'CONNECT' || command === 'STOMP' ? encodeFrame(command, shown, body, this.version) : bytes);
    }
    this.socket?.write(bytes);
  }

  private wait(match: (f: Frame) => boolean, what: string, ms = 30_000): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i !== -1) this.waiters.splice(i, 1);
        reject(new StompFailure(`no ${what} within ${ms} ms`));
      }, ms);
      const w: Waiter = {
        match,
        resolve: (f) => {
          clearTimeout(t);
          resolve(f);
        },
      };
      this.waiters.push(w);
    });
  }

  nextReceiptId(prefix: string): string {
    return `${prefix}-${++this.receiptCounter}`;
  }

  /** Sends a frame with a receipt and resolves with its RECEIPT. */
  request(command: string, headers: Record<string, string>, body?: string, prefix = command.toLowerCase()): Promise<Frame> {
    const receipt = this.nextReceiptId(prefix);
    const got = this.wait((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === receipt, `RECEIPT for ${command}`);
    this.send(command, { ...headers, receipt }, body);
    return got;
  }

  async connect(token: string, heartBeat: [number, number]): Promise<Frame> {
    const host = this.opts.tcp?.host ?? new URL(wsUrl(this.opts.url)).hostname;
    const got = this.wait((f) => f.command === 'CONNECTED', 'CONNECTED');
    this.send('CONNECT', {
      'accept-version': this.opts.version,
      host,
      ...(this.opts.version === '1.0' ? {} : { 'heart-beat': `${heartBeat[0]},${heartBeat[1]}` }),
      Authorization: `Bearer ${token}`,
    });
    const f = await got;
    this.connected = f;
    this.startHeartbeats(heartBeat, f);
    return f;
  }

  /** STOMP heart-beating (1.1+): our EOLs every max(cx, sy); the server is dead after 2x max(cy, sx) + 2 s. */
  private startHeartbeats([cx, cy]: [number, number], connected: Frame): void {
    if (this.version === '1.0') return;
    const [sx = 0, sy = 0] = (connected.headers['heart-beat'] ?? '0,0').split(',').map((v) => Number(v.trim()) || 0);
    if (cx > 0 && sy > 0) {
      this.timers.push(
        setInterval(
          () => {
            if (this.opts.raw) this.rawOut.print(Buffer.from('\n'));
            this.socket?.write('\n');
          },
          Math.max(cx, sy),
        ),
      );
    }
    if (cy > 0 && sx > 0) {
      const deadAfter = 2 * Math.max(cy, sx) + 2000;
      this.timers.push(
        setInterval(
          () => {
            if (Date.now() - this.lastReceived > deadAfter) this.fail(new StompFailure(`no heart-beat from the server for ${deadAfter} ms`));
          },
          Math.max(cy, sx),
        ),
      );
    }
  }

  /** DISCONNECT with a receipt (STOMP's graceful close), then close the transport. */
  async disconnect(ms = 5000): Promise<void> {
    if (this.closing) return this.close();
    const receipt = this.nextReceiptId('disconnect');
    const got = this.wait((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === receipt, 'RECEIPT for DISCONNECT', ms);
    this.send('DISCONNECT', { receipt });
    this.closing = true;
    try {
      await got;
    } finally {
      this.close();
    }
  }

  close(): void {
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    this.socket?.close();
  }

  /** Writes ACK for a MESSAGE of a client-ack subscription, as the negotiated version defines it. */
  ack(f: Frame): void {
    if (this.version === '1.2') this.send('ACK', { id: f.headers.ack ?? f.headers['message-id'] ?? '' });
    else if (this.version === '1.1') this.send('ACK', { 'message-id': f.headers['message-id'] ?? '', subscription: f.headers.subscription ?? '' });
    else this.send('ACK', { 'message-id': f.headers['message-id'] ?? '' });
  }
}

/** The WebSocket URL of --url: ws(s)://<host>/ws, or the ws:// or wss:// URL itself. */
export function wsUrl(base: string): string {
  const u = new URL(base);
  if (u.protocol === 'ws:' || u.protocol === 'wss:') return u.toString();
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = '/ws';
  u.search = '';
  return u.toString();
}
