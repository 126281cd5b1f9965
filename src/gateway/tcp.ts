// STOMP over plain TCP (STOMP_TCP_PORT). Half-open: a client that sends its frames and shuts its side
// (`printf … | nc -q1`) still gets every reply before the server closes.
import { createServer, type Server, type Socket } from 'node:net';
import type { Transport } from './transport.js';

/**
 * Accept queue of the listening sockets (HTTP/WebSocket and STOMP TCP); the kernel caps it at net.core.somaxconn.
 * Node's default of 511 overflowed when 1,000 clients connected at once: the dropped SYNs were retried by the
 * clients after TCP's 1 s timeout, which was the storm's whole p99.
 */
export const LISTEN_BACKLOG = 4096;

export interface TcpGateway {
  server: Server;
  close(): Promise<void>;
}

export interface TcpSessionSink {
  onData(chunk: Buffer): void;
  /** The peer shut its sending side: finish the replies, then close. */
  onInputEnded(): void;
  onTransportClosed(): void;
}

/**
 * The socket's session (and the gateway's socket set), read by listeners shared by every socket (`this` is the
 * socket): four closures and their context per connection cost ~300 bytes, the properties ~16.
 */
const SINK = Symbol('session');
const SOCKETS = Symbol('sockets');
type SessionSocket = Socket & { [SINK]: TcpSessionSink; [SOCKETS]: Set<Socket> };

function onTcpData(this: Socket, chunk: Buffer): void {
  (this as SessionSocket)[SINK].onData(chunk);
}

function onTcpEnd(this: Socket): void {
  (this as SessionSocket)[SINK].onInputEnded();
}

function onTcpClose(this: Socket): void {
  (this as SessionSocket)[SOCKETS].delete(this);
  (this as SessionSocket)[SINK].onTransportClosed();
}

function onTcpError(this: Socket): void {
  this.destroy();
}

export function startTcpGateway(
  port: number,
  host: string,
  openSession: (transport: Transport) => TcpSessionSink | null,
  admit: (address: string) => boolean,
): Promise<TcpGateway> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    if (!admit(address)) return void socket.destroy();
    sockets.add(socket);
    const session = openSession(new TcpTransport(socket, address));
    if (!session) return void socket.destroy();
    (socket as SessionSocket)[SINK] = session;
    (socket as SessionSocket)[SOCKETS] = sockets;
    socket.on('data', onTcpData);
    socket.on('end', onTcpEnd);
    socket.on('close', onTcpClose);
    socket.on('error', onTcpError);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve({
        server,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/**
 * Writes of one event-loop turn are corked together: one syscall per socket per fan-out burst. A class, not
 * closures: one transport per idle connection, so its size counts.
 */
class TcpTransport implements Transport {
  readonly kind = 'tcp';
  private corked = false;

  constructor(
    private readonly socket: Socket,
    readonly remoteAddress: string,
  ) {}

  send(data: Buffer): void {
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return;
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      setImmediate(uncorkTransport, this);
    }
    socket.write(data);
  }

  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  bufferedBytes(): number {
    return this.socket.writableLength;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  onDrain(fn: () => void): void {
    const socket = this.socket;
    if (socket.writableLength === 0 || socket.destroyed) return void setImmediate(fn);
    let called = false;
    const once = () => {
      if (called) return;
      called = true;
      socket.off('drain', once);
      socket.off('close', once);
      fn();
    };
    socket.on('drain', once);
    socket.on('close', once);
  }

  end(): void {
    this.uncork();
    this.socket.end();
    setTimeout(destroySocket, 2000, this.socket).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function uncorkTransport(t: TcpTransport): void {
  t.uncork();
}

function destroySocket(socket: Socket): void {
  socket.destroy();
}
