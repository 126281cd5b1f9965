// Socket-level defences of the HTTP listener, below fastify: a cap on open sockets per remote address, and a
// deadline for every request to arrive whole. Node has request/headers timeouts of its own, but they start with a
// request's first byte and are enforced by an internal checker we could not rely on behind fastify (a socket that
// sent half a request line stayed open); this guard is small, explicit and tested instead.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface SocketGuardOptions {
  /** A request (line, headers and body) must have fully arrived this long after the socket opened or went idle. */
  requestMs: number;
  /** An idle keep-alive socket gets this long, plus requestMs, to deliver its next request. */
  keepAliveMs: number;
  /** Open HTTP sockets per remote address; upgraded (WebSocket) sockets do not count. */
  maxSocketsPerIp: number;
}

interface Guarded {
  deadline: number;
  /** The request being received or answered; its handler may take as long as it needs once it is complete. */
  req?: IncomingMessage;
  ip: string;
}

export function guardSockets(server: Server, opts: SocketGuardOptions): void {
  const perIp = new Map<string, number>();
  const guarded = new Map<Socket, Guarded>();
  const forget = (socket: Socket) => {
    const g = guarded.get(socket);
    if (!g) return;
    guarded.delete(socket);
    const n = (perIp.get(g.ip) ?? 1) - 1;
    if (n <= 0) perIp.delete(g.ip);
    else perIp.set(g.ip, n);
  };

  server.on('connection', (socket: Socket) => {
    const ip = socket.remoteAddress ?? 'unknown';
    const n = perIp.get(ip) ?? 0;
    if (n >= opts.maxSocketsPerIp) return void socket.destroy();
    perIp.set(ip, n + 1);
    guarded.set(socket, { deadline: Date.now() + opts.requestMs, ip });
    socket.once('close', () => forget(socket));
  });
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const g = guarded.get(req.socket);
    if (!g) return;
    g.req = req;
    res.once('finish', () => {
      if (g.req !== req) return;
      g.req = undefined;
      g.deadline = Date.now() + opts.keepAliveMs + opts.requestMs;
    });
  });
  // An upgraded socket is a STOMP connection now: the gateway's own limits and heart-beats govern it.
  server.prependListener('upgrade', (req: IncomingMessage) => forget(req.socket));

  // One sweep every requestMs/4 (at least 100 ms): a byte-by-byte drip does not move a deadline, so it is cut
  // at most a quarter of requestMs late.
  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [socket, g] of guarded) {
        if (g.req && g.req.complete) continue; // answering: no deadline
        if (now >= g.deadline) socket.destroy();
      }
    },
    Math.max(100, Math.floor(opts.requestMs / 4)),
  );
  sweep.unref();
  server.once('close', () => clearInterval(sweep));
}
