// The load driver's Socket.IO client (for the reference server of bench/peers/socketio-server.ts): WebSocket
// transport only, no reconnection; rooms are joined by the server on connect (auth.rooms); a `send` event
// (room, payload[, ack]) is broadcast by the server to the room as a `message` event (payload).
import { io, type Socket } from 'socket.io-client';
import { deadline, type LoadClient } from './client.js';
import { epochNow, type ClientSpec } from './ipc.js';

export class SocketIoLoadClient implements LoadClient {
  open = false;
  readonly heartbeatsIn = 0;
  readonly heartbeatsOut = 0;
  readonly serverHeartbeatMs = 0;
  onPayload: (payload: Buffer | string) => void = () => {};
  onError: (reason: string) => void = () => {};
  onUnexpectedClose: () => void = () => {};
  private socket: Socket | null = null;
  private closing = false;

  constructor(readonly spec: ClientSpec) {}

  connect(timeoutMs: number): Promise<number> {
    const startedAt = epochNow();
    const p = new Promise<void>((resolve, reject) => {
      const socket = io(this.spec.url, {
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
        timeout: timeoutMs,
        auth: { rooms: this.spec.subscribe.map((s) => s.destination) },
        ...(this.spec.localAddress ? { localAddress: this.spec.localAddress } : {}),
      });
      this.socket = socket;
      socket.on('message', (payload: string) => this.onPayload(payload));
      socket.once('connect', () => {
        this.open = true;
        resolve();
      });
      socket.once('connect_error', (err) => reject(new Error(`socket.io ${err.message}`)));
      socket.on('disconnect', (reason) => {
        const wasOpen = this.open;
        this.open = false;
        if (!this.closing && wasOpen) {
          this.onError(`socket.io ${reason}`);
          this.onUnexpectedClose();
        }
      });
    });
    return deadline(p, timeoutMs, 'connect timeout').then(
      () => startedAt,
      (err: Error) => {
        this.close();
        throw err;
      },
    );
  }

  async subscribe(): Promise<void> {
    // Joined on connect.
  }

  send(destination: string, body: string, onAck?: () => void): boolean {
    if (!this.open || !this.socket) return false;
    if (onAck) this.socket.emit('send', destination, body, onAck);
    else this.socket.emit('send', destination, body);
    return true;
  }

  close(): void {
    this.closing = true;
    this.open = false;
    this.socket?.disconnect();
  }
}
