// STOMP over WebSocket at /ws: one or more frames per WebSocket message, text or binary.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Transport } from './transport.js';

const PROTOCOLS = ['v12.stomp', 'v11.stomp', 'v10.stomp'];

export interface WsGateway {
  close(): Promise<void>;
}

/** What the gateway needs from the session layer: a session per socket, or null to refuse the connection. */
export interface SessionSink {
  onData(chunk: Buffer): void;
  onTransportClosed(): void;
}

export function attachWebSocketGateway(
  server: Server,
  maxFrameBytes: number,
  /** null: refused (a connection cap is reached). */
  openSession: (transport: Transport, urlToken: string | null) => SessionSink | null,
  admit: (address: string) => boolean,
): WsGateway {
  const wss = new WebSocketServer({
    noServer: true,
    // A WebSocket message may carry several frames, but never more than a few frames' worth.
    maxPayload: maxFrameBytes * 4,
    perMessageDeflate: false,
    handleProtocols: (offered) => PROTOCOLS.find((p) => offered.has(p)) ?? false,
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const address = req.socket.remoteAddress ?? 'unknown';
    if (!admit(address)) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    // Only these two strings outlive the handshake (a retained URL costs ~300 bytes per connection).
    const token = url.searchParams.get('access_token');
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session = openSession(new WsTransport(ws, address), token);
      if (!session) return void ws.terminate();
      (ws as SessionSocket)[SINK] = session;
      ws.on('message', onWsMessage);
      ws.on('close', onWsClosed);
      ws.on('error', onWsClosed);
    });
  });

  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

/**
 * The socket's session, read by listeners shared by every socket (`this` is the socket): three closures and their
 * context per connection cost ~250 bytes, the property ~8.
 */
const SINK = Symbol('session');
type SessionSocket = WebSocket & { [SINK]: SessionSink };

function onWsMessage(this: WebSocket, data: RawData): void {
  (this as SessionSocket)[SINK].onData(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data));
}

function onWsClosed(this: WebSocket): void {
  (this as SessionSocket)[SINK].onTransportClosed();
}

/**
 * Frames written in the same event-loop turn leave as one WebSocket message (STOMP allows several frames per
 * message): a fan-out burst then costs one syscall per socket instead of one per frame. Measured: writev was
 * ~20 % of a server's CPU at 10,000 deliveries/s before this. A class, not closures: one transport per idle
 * connection, so its size counts (a closure per method cost ~1 KB per connection).
 */
class WsTransport implements Transport {
  readonly kind = 'ws';
  /** Frames sent in this event-loop turn (null between flushes: an idle connection holds no array). */
  private pending: Buffer[] | null = null;
  private pendingBytes = 0;
  private scheduled = false;
  private drainWaiters: Array<() => void> | null = null;
  /** ws' send callback: the one closure a transport keeps. */
  private readonly sent = () => this.checkDrained();

  constructor(
    private readonly ws: WebSocket,
    readonly remoteAddress: string,
  ) {}

  send(data: Buffer): void {
    (this.pending ??= []).push(data);
    this.pendingBytes += data.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(flushTransport, this);
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending === null) return;
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = null;
    this.pendingBytes = 0;
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(data, { binary: false }, this.sent);
  }

  bufferedBytes(): number {
    return this.ws.bufferedAmount + this.pendingBytes;
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  onDrain(fn: () => void): void {
    if (this.bufferedBytes() === 0 || this.ws.readyState !== this.ws.OPEN) return void setImmediate(fn);
    (this.drainWaiters ??= []).push(fn);
  }

  end(): void {
    this.flush();
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(1000);
    // A peer that never answers the close handshake is dropped.
    setTimeout(terminate, 2000, this.ws).unref();
  }

  destroy(): void {
    this.ws.terminate();
  }

  private checkDrained(): void {
    if (this.drainWaiters === null || this.bufferedBytes() > 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = null;
    for (const fn of waiters) fn();
  }
}

function flushTransport(t: WsTransport): void {
  t.flush();
}

function terminate(ws: WebSocket): void {
  ws.terminate();
}
