// Reference server for the peers bench: the smallest idiomatic Socket.IO chat fan-out, scaled out the usual way
// (@socket.io/redis-adapter on the same Redis as ours). A client's rooms are joined on connect
// (`auth.rooms`); a `send` event (room, payload[, ack]) is broadcast to the room (sender included) as a
// `message` event; the optional ack is called once the broadcast is handed to the adapter.
// Run by bench/peers/socketio.ts as a child process: PORT and REDIS_URL from the environment, it answers
// `{type:'listening', port}` over IPC and exits when its parent goes away.
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { readSetting } from '../../src/config.js';

const port = Number(process.env.PORT ?? 0);
const redisUrl = readSetting('REDIS_URL');

const pub = new Redis(redisUrl, { lazyConnect: true });
const sub = pub.duplicate();
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer();
const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });
io.adapter(createAdapter(pub, sub, { key: `bench-peers-${process.pid}` }));

io.on('connection', (socket) => {
  const rooms: unknown = socket.handshake.auth.rooms;
  if (Array.isArray(rooms)) for (const r of rooms) if (typeof r === 'string') void socket.join(r);
  socket.on('send', (room: unknown, payload: unknown, ack?: unknown) => {
    if (typeof room !== 'string' || typeof payload !== 'string' || payload.length > 4096) return;
    io.to(room).emit('message', payload);
    if (typeof ack === 'function') (ack as () => void)();
  });
});

http.listen(port, '127.0.0.1', () => {
  const address = http.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  process.stdout.write(`socket.io reference server listening on 127.0.0.1:${actual}\n`);
  process.send?.({ type: 'listening', port: actual });
});

const shutdown = () => {
  // The process exits 200 ms later whatever close does: there is nobody to report a failure to.
  void io.close();
  pub.disconnect();
  sub.disconnect();
  setTimeout(() => process.exit(0), 200).unref();
};
process.on('disconnect', shutdown);
process.on('SIGTERM', shutdown);
process.on('SIGINT', () => {});
