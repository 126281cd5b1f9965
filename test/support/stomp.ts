// STOMP clients for tests: @stomp/stompjs over WebSocket and stompit over TCP (clients we did not write); raw
// frames are test/support/raw.ts.
import { Client, type IMessage, type StompHeaders } from '@stomp/stompjs';
import { createRequire } from 'node:module';
import WebSocket from 'ws';
import { withDeadline } from './cluster.js';

const require = createRequire(import.meta.url);
// stompit ships no types; the slice used here is typed below.
const stompit = require('stompit') as {
  connect(opts: { host: string; port: number; connectHeaders: Record<string, string> }, cb: (err: Error | null, client: StompitClient) => void): void;
};

interface StompitClient {
  subscribe(headers: Record<string, string>, cb: (err: Error | null, message: StompitMessage) => void): { unsubscribe(): void };
  send(headers: Record<string, string>, opts?: { onReceipt?: () => void }): { write(s: string): void; end(): void };
  disconnect(cb?: (err: Error | null) => void): void;
  destroy(err?: Error): void;
  on(event: 'error', cb: (err: Error) => void): void;
}
interface StompitMessage {
  headers: Record<string, string>;
  readString(encoding: string, cb: (err: Error | null, body: string) => void): void;
}

export interface Received {
  headers: Record<string, string>;
  body: any;
}

/** A connected @stomp/stompjs client over WebSocket. */
export class WsStomp {
  readonly client: Client;
  errors: Array<{ headers: StompHeaders; body: string }> = [];

  private constructor(client: Client) {
    this.client = client;
  }

  static async connect(wsUrl: string, token: string, extra: Partial<ConstructorParameters<typeof Client>[0]> = {}): Promise<WsStomp> {
    const client = new Client({
      webSocketFactory: () => new WebSocket(wsUrl, ['v12.stomp']),
      connectHeaders: { Authorization: `Bearer ${token}` },
      reconnectDelay: 0,
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      ...extra,
    });
    const c = new WsStomp(client);
    await withDeadline(
      new Promise<void>((resolve, reject) => {
        client.onConnect = () => resolve();
        client.onStompError = (f) => {
          c.errors.push({ headers: f.headers, body: f.body });
          reject(new Error(`STOMP ERROR ${f.headers.message}: ${f.body}`));
        };
        client.onWebSocketError = () => reject(new Error('websocket error'));
        client.activate();
      }),
      15_000,
      'stomp connect',
    );
    client.onStompError = (f) => c.errors.push({ headers: f.headers, body: f.body });
    return c;
  }

  /** Subscribes and resolves after the server's RECEIPT (subscription active on the server). */
  async subscribe(destination: string, onMessage: (m: Received, raw: IMessage) => void, headers: StompHeaders = {}): Promise<StompHeaders> {
    const receipt = `sub-${Math.random().toString(36).slice(2)}`;
    const receiptHeaders = new Promise<StompHeaders>((resolve) => this.client.watchForReceipt(receipt, (f) => resolve(f.headers)));
    this.client.subscribe(destination, (m) => onMessage({ headers: m.headers as Record<string, string>, body: safeJson(m.body) }, m), { ...headers, receipt });
    return withDeadline(receiptHeaders, 20_000, `subscribe ${destination}`);
  }

  /** SEND and wait for its RECEIPT (Kafka acknowledged); resolves with the receipt headers. */
  async send(destination: string, body: string, headers: StompHeaders = {}): Promise<StompHeaders> {
    const receipt = `snd-${Math.random().toString(36).slice(2)}`;
    const got = new Promise<StompHeaders>((resolve) => this.client.watchForReceipt(receipt, (f) => resolve(f.headers)));
    this.client.publish({ destination, body, headers: { ...headers, receipt } });
    return withDeadline(got, 20_000, `send receipt to ${destination}`);
  }

  async close(): Promise<void> {
    await withDeadline(this.client.deactivate(), 5000, 'stompjs deactivate').catch(() => this.client.forceDisconnect());
  }
}

/** A connected stompit client over TCP. */
export class TcpStomp {
  private constructor(readonly client: StompitClient) {}

  static connect(port: number, token: string): Promise<TcpStomp> {
    return withDeadline(
      new Promise<TcpStomp>((resolve, reject) => {
        stompit.connect({ host: '127.0.0.1', port, connectHeaders: { host: '/', login: 'user', passcode: token, 'accept-version': '1.2' } }, (err, client) => {
          if (err) return reject(err);
          client.on('error', () => {});
          resolve(new TcpStomp(client));
        });
      }),
      15_000,
      'stompit connect',
    );
  }

  subscribe(destination: string, onMessage: (m: Received) => void, headers: Record<string, string> = {}): void {
    this.client.subscribe({ destination, ack: 'auto', ...headers }, (err, message) => {
      if (err) return;
      message.readString('utf-8', (e, body) => {
        if (!e) onMessage({ headers: message.headers, body: safeJson(body) });
      });
    });
  }

  send(destination: string, body: string, headers: Record<string, string> = {}): Promise<void> {
    return withDeadline(
      new Promise<void>((resolve) => {
        const frame = this.client.send({ destination, 'content-type': 'text/plain', ...headers }, { onReceipt: () => resolve() });
        frame.write(body);
        frame.end();
      }),
      20_000,
      'stompit send receipt',
    );
  }

  /** DISCONNECT with receipt; a server that is gone or slow gets the socket destroyed instead. */
  async close(): Promise<void> {
    try {
      await withDeadline(new Promise<void>((resolve) => this.client.disconnect(() => resolve())), 3000, 'stompit disconnect');
    } catch {
      this.client.destroy();
    }
  }
}

function safeJson(s: string): any {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
