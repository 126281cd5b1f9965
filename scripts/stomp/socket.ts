// One STOMP byte stream over plain TCP or WebSocket, for every tool that speaks STOMP with our codec: the CLI
// (scripts/stomp.ts), the raw test connections (test/support/raw.ts), the load client and the fuzzer (bench/).
// It opens the transport (rejecting when it cannot), hands every chunk over as a Buffer, and writes, half-closes,
// pauses and closes the same way whichever transport it is. Framing is the codec's business (protocol/).
import { createConnection, type Socket } from 'node:net';
import WebSocket from 'ws';
import type { StompVersion } from '../../protocol/index.js';

export type SocketTarget =
  | {
      kind: 'tcp';
      host: string;
      port: number;
      /** The source address (any 127.x.y.z on loopback: per-address limits then count only it). */
      localAddress?: string;
      /** Keep reading after our end() until the server closes (half-close). */
      allowHalfOpen?: boolean;
    }
  | {
      kind: 'ws';
      url: string;
      /** Sub-protocols to offer (default v12.stomp). */
      protocols?: readonly string[];
      localAddress?: string;
      /** Send every message as binary (default: text). */
      binary?: boolean;
      perMessageDeflate?: boolean;
    };

export interface SocketEvents {
  onData(chunk: Buffer): void;
  /** Once, when the connection is gone (a WebSocket's close code; null for TCP). */
  onClose(code: number | null): void;
  /** An error once open (a close follows); before that, open() rejects instead. Default: ignored. */
  onError?(err: Error): void;
}

/** The WebSocket sub-protocol of a STOMP version: `v12.stomp`. */
export const subprotocolOf = (version: StompVersion): string => `v${version.replace('.', '')}.stomp`;

/** Every version's sub-protocol, `first` first: what a client that prefers one version offers. */
export function subprotocols(first: StompVersion = '1.2'): string[] {
  return [first, ...(['1.2', '1.1', '1.0'] as const).filter((v) => v !== first)].map(subprotocolOf);
}

/** A `ws` message (Buffer, ArrayBuffer or fragments) as one Buffer. */
export function toBuffer(data: WebSocket.RawData): Buffer {
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
}

export class StompSocket {
  private constructor(
    readonly kind: 'tcp' | 'ws',
    readonly socket: Socket | null,
    readonly ws: WebSocket | null,
    private readonly binary: boolean,
  ) {}

  /** Opens the transport; rejects on an error or a refused upgrade before it opened, or after `timeoutMs`. */
  static open(target: SocketTarget, events: SocketEvents, timeoutMs = 15_000): Promise<StompSocket> {
    return new Promise((resolve, reject) => {
      let opened = false;
      let conn: StompSocket;
      const timer = setTimeout(() => {
        conn.destroy();
        reject(new Error(`${describe(target)}: not open within ${timeoutMs} ms`));
      }, timeoutMs);
      const onOpen = () => {
        opened = true;
        clearTimeout(timer);
        resolve(conn);
      };
      const onError = (err: Error) => {
        if (opened) return events.onError?.(err);
        clearTimeout(timer);
        reject(Object.assign(new Error(`cannot open ${describe(target)}: ${err.message}`, { cause: err }), { code: (err as NodeJS.ErrnoException).code }));
      };
      if (target.kind === 'tcp') {
        const local = target.localAddress ? { localAddress: target.localAddress } : {};
        const s = createConnection({ host: target.host, port: target.port, allowHalfOpen: target.allowHalfOpen ?? false, ...local }, onOpen);
        conn = new StompSocket('tcp', s, null, false);
        s.setNoDelay(true);
        s.on('data', (d: Buffer) => events.onData(d));
        // Half-open: the server ended its side; end ours too once we are done (the close follows).
        if (target.allowHalfOpen) s.on('end', () => s.end());
        s.on('error', onError);
        s.on('close', () => events.onClose(null));
      } else {
        const options = {
          ...(target.localAddress ? { localAddress: target.localAddress } : {}),
          ...(target.perMessageDeflate === false ? { perMessageDeflate: false } : {}),
        };
        const ws = new WebSocket(target.url, [...(target.protocols ?? [subprotocolOf('1.2')])], options);
        conn = new StompSocket('ws', null, ws, target.binary ?? false);
        ws.on('open', onOpen);
        ws.on('message', (data) => events.onData(toBuffer(data)));
        ws.on('error', onError);
        ws.on('close', (code) => events.onClose(code));
      }
    });
  }

  /** Writes bytes as they are (TCP: one write; WebSocket: one message, text unless `binary`); nothing once closed. */
  write(data: string | Buffer, binary = this.binary): void {
    if (this.socket) {
      if (!this.socket.destroyed && this.socket.writable) this.socket.write(data);
    } else if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(data, { binary });
  }

  /** Resolves once the bytes are handed to the kernel (TCP) or the WebSocket send completed, or at once when closed. */
  writeAsync(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket) {
        if (this.socket.destroyed || !this.socket.writable) return resolve();
        this.socket.write(data, () => resolve());
      } else if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(data, { binary: this.binary }, () => resolve());
      else resolve();
    });
  }

  /** TCP half-close: no more bytes from us; the server may still answer (WebSocket: nothing). */
  end(): void {
    this.socket?.end();
  }

  /** A graceful close: WebSocket close 1000, TCP FIN. */
  close(): void {
    if (this.socket) {
      this.socket.end();
      this.socket.destroy();
    } else if (this.ws?.readyState === WebSocket.OPEN) this.ws.close(1000);
    else this.ws?.terminate();
  }

  /** Drops the connection at once. */
  destroy(): void {
    if (this.socket) this.socket.destroy();
    else this.ws?.terminate();
  }

  /** Stops reading (the kernel buffers fill and the peer's writes back up). */
  pause(): void {
    this.rawSocket()?.pause();
  }

  resume(): void {
    this.rawSocket()?.resume();
  }

  private rawSocket(): Socket | null {
    return this.socket ?? (this.ws as unknown as { _socket: Socket | null } | null)?._socket ?? null;
  }
}

function describe(target: SocketTarget): string {
  return target.kind === 'tcp' ? `${target.host}:${target.port}` : target.url;
}
