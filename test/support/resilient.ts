// Clients that behave like a well-written chat app under faults: the sender retries every message
// under the same idempotency key until it gets a RECEIPT (reconnecting, rotating instances); the
// receiver resumes with since-seq after any disconnect. Tests then compare what was acknowledged,
// stored and delivered.
import { Client, type IFrame } from '@stomp/stompjs';
import WebSocket from 'ws';
import { sleep } from './cluster.js';

export interface Acked {
  key: string;
  id: string;
  seq: string;
  /** attempts it took (1 = first try) */
  attempts: number;
  /** when the RECEIPT came (ms since the epoch) */
  at: number;
}

/** A @stomp/stompjs client over WebSocket, connected (5 s at most); `onClose` hears of an ERROR or a closed socket. */
export function connectStomp(url: string, token: string, onClose: (why: string) => void): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client({
      webSocketFactory: () => new WebSocket(url, ['v12.stomp']),
      connectHeaders: { passcode: token },
      reconnectDelay: 0,
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
    });
    let connected = false;
    client.onConnect = () => {
      connected = true;
      resolve(client);
    };
    client.onStompError = (f: IFrame) => onClose(`ERROR ${f.headers.message}: ${f.body}`);
    client.onWebSocketClose = () => {
      if (!connected) reject(new Error('closed before CONNECTED'));
      onClose('socket closed');
    };
    client.onWebSocketError = () => {
      if (!connected) reject(new Error('websocket error'));
    };
    client.activate();
    setTimeout(() => !connected && reject(new Error('connect timeout')), 5000).unref();
  });
}

export class ResilientSender {
  readonly acked: Acked[] = [];
  readonly errors: string[] = [];
  private client: Client | null = null;
  private urlIndex = 0;
  private failPending: ((why: string) => void) | null = null;
  stopped = false;

  constructor(
    private readonly urls: () => string[],
    private readonly token: string,
    private readonly roomId: string,
    private readonly tag: string,
  ) {}

  private async ensure(): Promise<Client> {
    for (;;) {
      if (this.client?.connected) return this.client;
      const urls = this.urls();
      const url = urls[this.urlIndex++ % urls.length]!;
      try {
        this.client = await connectStomp(url, this.token, (why) => {
          this.errors.push(why);
          this.client = null;
          this.failPending?.(why);
        });
        return this.client;
      } catch (err) {
        this.errors.push(`connect ${url}: ${(err as Error).message}`);
        await sleep(200);
      }
    }
  }

  /** Sends messages `<tag>-0..n-1` one after another, each until acknowledged. */
  async run(n: number, pauseMs = 5): Promise<void> {
    for (let i = 0; i < n && !this.stopped; i++) {
      const key = `${this.tag}-${i}`;
      for (let attempt = 1; ; attempt++) {
        const client = await this.ensure();
        const receiptId = `${key}-${attempt}`;
        try {
          const headers = await new Promise<Record<string, string>>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('receipt timeout')), 20_000);
            this.failPending = (why) => {
              clearTimeout(timer);
              reject(new Error(why));
            };
            client.watchForReceipt(receiptId, (f) => {
              clearTimeout(timer);
              resolve(f.headers);
            });
            client.publish({ destination: `/topic/rooms.${this.roomId}`, body: key, headers: { receipt: receiptId, 'idempotency-key': key } });
          });
          this.failPending = null;
          this.acked.push({ key, id: headers['message-id']!, seq: headers.seq!, attempts: attempt, at: Date.now() });
          break;
        } catch (err) {
          this.failPending = null;
          this.errors.push(`${key}: ${(err as Error).message}`);
          // The failure is recorded above; the broken client is dropped whether or not it deactivates cleanly.
          await this.client?.deactivate().catch(() => {});
          this.client = null;
          await sleep(100);
        }
      }
      if (pauseMs) await sleep(pauseMs);
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    // Closing at the end of a test: a client the server already cut has nothing left to deactivate.
    await this.client?.deactivate().catch(() => {});
  }
}

export class ResilientReceiver {
  /** message ids in arrival order (duplicates included, so tests can count them) */
  readonly ids: string[] = [];
  readonly seqs: bigint[] = [];
  reconnects = 0;
  private lastSeq: string | null = null;
  private client: Client | null = null;
  private urlIndex = 0;
  private closed = false;

  constructor(
    private readonly urls: () => string[],
    private readonly token: string,
    private readonly roomId: string,
  ) {}

  async start(): Promise<void> {
    await this.connectAndSubscribe();
  }

  private async connectAndSubscribe(): Promise<void> {
    while (!this.closed) {
      const urls = this.urls();
      const url = urls[this.urlIndex++ % urls.length]!;
      try {
        const client = await connectStomp(url, this.token, () => {
          if (this.closed || this.client !== client) return;
          this.client = null;
          this.reconnects++;
          setTimeout(() => void this.connectAndSubscribe(), 100);
        });
        this.client = client;
        await new Promise<void>((resolve, reject) => {
          const receipt = `sub-${Date.now()}-${Math.random()}`;
          client.watchForReceipt(receipt, () => resolve());
          setTimeout(() => reject(new Error('subscribe receipt timeout')), 30_000).unref();
          client.subscribe(
            `/topic/rooms.${this.roomId}`,
            (m) => {
              this.ids.push(m.headers['message-id']!);
              this.seqs.push(BigInt(m.headers.seq!));
              this.lastSeq = m.headers.seq!;
            },
            { receipt, ...(this.lastSeq !== null ? { 'since-seq': this.lastSeq } : { 'since-seq': '0' }) },
          );
        });
        return;
      } catch {
        await sleep(300);
      }
    }
  }

  /** Kills the connection without DISCONNECT (as a network cut would); the receiver resumes by itself. */
  cut(): void {
    this.client?.forceDisconnect();
  }

  async close(): Promise<void> {
    this.closed = true;
    // Closing at the end of a test: a client the server already cut has nothing left to deactivate.
    await this.client?.deactivate().catch(() => {});
  }
}
