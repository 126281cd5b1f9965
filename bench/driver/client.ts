// The load driver's view of one connection, whatever the server speaks (STOMP over WebSocket or TCP with our
// codec, or Socket.IO): connect, get ready to receive, send, close; payloads and errors come back as callbacks.
import type { ClientSpec } from './ipc.js';

export interface LoadClient {
  readonly spec: ClientSpec;
  /** True between CONNECTED and the close. */
  readonly open: boolean;
  /** Heart-beats received from the server (STOMP EOLs between frames). */
  readonly heartbeatsIn: number;
  readonly heartbeatsOut: number;
  /** Negotiated interval of the server's heart-beats in ms (0: none), known after CONNECTED. */
  readonly serverHeartbeatMs: number;
  /** Every delivered payload (a MESSAGE body, or a Socket.IO event argument), synchronously as it arrives. */
  onPayload: (payload: Buffer | string) => void;
  /** An error after CONNECTED: ERROR frame `message`, socket error. */
  onError: (reason: string) => void;
  /** The connection closed without close() having been called. */
  onUnexpectedClose: () => void;
  /**
   * Opens the connection and resolves at CONNECTED (STOMP) / `connect` (Socket.IO) with the epoch ms at which the
   * socket was created; rejects with a short reason on an ERROR frame, a socket error, a close or the deadline.
   */
  connect(timeoutMs: number): Promise<number>;
  /** Subscribes to every room of the spec and resolves when the server confirmed (RECEIPT); no-op for Socket.IO. */
  subscribe(timeoutMs: number): Promise<void>;
  /** Sends a message; `onAck` is called at its RECEIPT / acknowledgement. False when the connection is not open. */
  send(destination: string, body: string, onAck?: () => void): boolean;
  close(): void;
}

/** Rejects with `reason` after `ms` unless `p` settled first. */
export function deadline<T>(p: Promise<T>, ms: number, reason: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(reason)), ms);
    }),
  ]);
}
