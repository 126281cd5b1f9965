// A minimal STOMP 1.2 client for load: the shared byte stream (scripts/stomp/socket.ts: WebSocket or TCP) and our
// codec (StompDecoder, encodeFrame).
// No reconnects, no per-frame objects beyond what the decoder hands out; MESSAGE bodies go straight to
// onPayload. Heart-beats are answered at the negotiated interval.
import { StompDecoder, encodeFrame, type Frame } from '../../protocol/index.js';
import { StompSocket, type SocketTarget } from '../../scripts/stomp/socket.js';
import { deadline, type LoadClient } from './client.js';
import { epochNow, type ClientSpec } from './ipc.js';

const EOL = Buffer.from('\n');

export class StompLoadClient implements LoadClient {
  open = false;
  heartbeatsIn = 0;
  heartbeatsOut = 0;
  serverHeartbeatMs = 0;
  onPayload: (payload: Buffer | string) => void = () => {};
  onError: (reason: string) => void = () => {};
  onUnexpectedClose: () => void = () => {};

  private socket: StompSocket | null = null;
  private closing = false;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private nextReceipt = 0;
  private readonly receipts = new Map<string, () => void>();
  private connected: { resolve: () => void; reject: (err: Error) => void } | null = null;
  private readonly decoder: StompDecoder;

  constructor(readonly spec: ClientSpec) {
    this.decoder = new StompDecoder(
      {
        onFrame: (f) => this.onFrame(f),
        // The EOL right after a frame's NUL (our encoder always writes one) is framing, not a heart-beat.
        onHeartbeat: (trailing?: boolean) => {
          if (trailing !== true) this.heartbeatsIn++;
        },
      },
      // Servers under test may send more or longer headers than ours (RabbitMQ); only the body matters here.
      { commands: 'server', maxFrameBytes: 1024 * 1024, maxHeaders: 256, maxHeaderBytes: 16 * 1024 },
    );
  }

  connect(timeoutMs: number): Promise<number> {
    const startedAt = epochNow();
    const local = this.spec.localAddress ? { localAddress: this.spec.localAddress } : {};
    const u = new URL(this.spec.url);
    const target: SocketTarget =
      this.spec.transport === 'ws'
        ? { kind: 'ws', url: this.spec.url, binary: true, perMessageDeflate: false, ...local }
        : { kind: 'tcp', host: u.hostname, port: Number(u.port), ...local };
    const p = new Promise<void>((resolve, reject) => {
      this.connected = { resolve, reject };
      StompSocket.open(
        target,
        { onData: (d) => this.onBytes(d), onClose: () => this.onClose(), onError: (err) => this.fail(this.reason(err)) },
        timeoutMs,
      ).then(
        (socket) => {
          this.socket = socket;
          if (this.closing) return socket.destroy();
          this.write(encodeFrame('CONNECT', this.connectHeaders()));
        },
        (err: Error) => this.fail(this.reason(err)),
      );
    });
    return deadline(p, timeoutMs, 'connect timeout').then(
      () => startedAt,
      (err: Error) => {
        this.close();
        throw err;
      },
    );
  }

  private reason(err: Error): string {
    return `${this.spec.transport} ${(err as NodeJS.ErrnoException).code ?? (err.cause as NodeJS.ErrnoException | undefined)?.code ?? err.message}`;
  }

  async subscribe(timeoutMs: number): Promise<void> {
    await deadline(
      Promise.all(
        this.spec.subscribe.map(
          (s, i) =>
            new Promise<void>((resolve) => {
              const receipt = `sub-${i}`;
              this.receipts.set(receipt, resolve);
              this.write(encodeFrame('SUBSCRIBE', { id: String(i), destination: s.destination, ack: 'auto', receipt }));
            }),
        ),
      ),
      timeoutMs,
      'subscribe timeout',
    );
  }

  send(destination: string, body: string, onAck?: () => void): boolean {
    if (!this.open) return false;
    if (onAck) {
      const receipt = `r${++this.nextReceipt}`;
      this.receipts.set(receipt, onAck);
      this.write(encodeFrame('SEND', { destination, 'content-type': 'text/plain', receipt }, body));
    } else {
      this.write(encodeFrame('SEND', { destination, 'content-type': 'text/plain' }, body));
    }
    return true;
  }

  close(): void {
    this.closing = true;
    this.open = false;
    this.stopHeartbeats();
    this.socket?.close();
  }

  private connectHeaders(): Record<string, string> {
    const [cx, cy] = this.spec.heartbeat ?? [0, 0];
    return {
      'accept-version': '1.2',
      host: new URL(this.spec.url).hostname,
      'heart-beat': `${cx},${cy}`,
      ...this.spec.connectHeaders,
    };
  }

  private write(buf: Buffer): void {
    this.socket?.write(buf);
  }

  private onBytes(chunk: Buffer): void {
    try {
      this.decoder.push(chunk);
    } catch (err) {
      this.fail(`decode ${(err as Error).message}`);
      this.close();
    }
  }

  private onFrame(f: Frame): void {
    switch (f.command) {
      case 'MESSAGE':
        this.onPayload(f.body);
        return;
      case 'RECEIPT': {
        const id = f.headers['receipt-id'] ?? '';
        const cb = this.receipts.get(id);
        if (cb) {
          this.receipts.delete(id);
          cb();
        }
        return;
      }
      case 'CONNECTED':
        this.open = true;
        this.startHeartbeats(f.headers['heart-beat']);
        this.connected?.resolve();
        this.connected = null;
        return;
      case 'ERROR':
        this.fail(`ERROR ${f.headers.message ?? '?'}`);
        return;
    }
  }

  /** Spec: the client sends every max(cx, sy) ms and the server every max(sx, cy) ms, when both are non-zero. */
  private startHeartbeats(header: string | undefined): void {
    const [cx, cy] = this.spec.heartbeat ?? [0, 0];
    const [sx = 0, sy = 0] = (header ?? '0,0').split(',').map(Number);
    this.serverHeartbeatMs = sx > 0 && cy > 0 ? Math.max(sx, cy) : 0;
    if (!(cx > 0 && sy > 0)) return;
    const every = Math.max(cx, sy);
    // Spread the first beat over the interval so thousands of idle connections do not beat in step.
    const first = setTimeout(() => {
      this.beat();
      this.heartbeatTimer = setInterval(() => this.beat(), every);
    }, Math.random() * every);
    this.heartbeatTimer = first;
  }

  private beat(): void {
    if (!this.open) return;
    this.heartbeatsOut++;
    this.write(EOL);
  }

  private stopHeartbeats(): void {
    if (this.heartbeatTimer) {
      clearTimeout(this.heartbeatTimer);
      clearInterval(this.heartbeatTimer);
    }
    this.heartbeatTimer = null;
  }

  private fail(reason: string): void {
    if (this.connected) {
      this.connected.reject(new Error(reason));
      this.connected = null;
    } else if (!this.closing) this.onError(reason);
  }

  private onClose(): void {
    const wasOpen = this.open;
    this.open = false;
    this.stopHeartbeats();
    if (this.connected) this.fail('closed before CONNECTED');
    else if (!this.closing && wasOpen) this.onUnexpectedClose();
  }
}
