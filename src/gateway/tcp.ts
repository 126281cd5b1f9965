// STOMP over plain TCP (STOMP_TCP_PORT).
import { createServer, type Server, type Socket } from 'node:net';
import type { Session, Transport } from './session.js';

export interface TcpGateway {
  server: Server;
  close(): Promise<void>;
}

export function startTcpGateway(
  port: number,
  host: string,
  createSession: (transport: Transport) => Session,
): Promise<TcpGateway> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const session = createSession(tcpTransport(socket));
    socket.on('data', (chunk) => session.onData(chunk));
    socket.on('close', () => {
      sockets.delete(socket);
      session.onTransportClosed();
    });
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
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

/** Writes of one event-loop turn are corked together: one syscall per socket per fan-out burst. */
function tcpTransport(socket: Socket): Transport {
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  return {
    kind: 'tcp',
    send: (data) => {
      if (socket.destroyed) return;
      if (!corked) {
        corked = true;
        socket.cork();
        setImmediate(uncork);
      }
      socket.write(data);
    },
    bufferedBytes: () => socket.writableLength,
    end: () => {
      if (corked) uncork();
      socket.end();
      setTimeout(() => socket.destroy(), 2000).unref();
    },
    destroy: () => socket.destroy(),
  };
}
