// Steady chat traffic for fault tests, sent and received by a standard STOMP client (@stomp/stompjs over
// WebSocket): per room one pipelined sender (a window of SENDs with receipts, each retried under its idempotency
// key until acknowledged, on any instance) and subscribers on every instance that resume with since-seq; read
// positions posted while it runs. Everything is recorded with times, so a test can assert exact outcomes (acked =
// stored = delivered, in order) and measure stalls and latency around a fault.
import type { Client } from '@stomp/stompjs';
import { Api, type Account } from './api.js';
import { sleep } from './cluster.js';
import { connectStomp } from './resilient.js';

export interface Acked {
  key: string;
  id: string;
  seq: bigint;
  firstSentAt: number;
  ackedAt: number;
  attempts: number;
  /** The RECEIPT said `duplicate:true`: answered from a write of an earlier attempt with the same key. */
  duplicate: boolean;
}

interface Outstanding {
  key: string;
  firstSentAt: number;
  attempts: number;
}

/**
 * Sends `<tag>-<n>` at `ratePerSec`, at most `window` unacknowledged at once. A lost connection (ERROR
 * server-unavailable, a dead instance) fails every outstanding SEND; they are sent again, in order, under the same
 * idempotency keys on the next instance. The content carries the key, so receivers can match it.
 */
export class PipelinedSender {
  readonly acked: Acked[] = [];
  readonly errors: string[] = [];
  private client: Client | null = null;
  private connecting: Promise<Client> | null = null;
  private readonly outstanding = new Map<string, Outstanding>();
  private readonly retry: Outstanding[] = [];
  private next = 0;
  private stopping = false;
  private urlIndex = 0;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly urls: () => string[],
    private readonly token: string,
    readonly roomId: string,
    private readonly tag: string,
    private readonly opts: { ratePerSec: number; window: number },
  ) {
    this.urlIndex = Math.floor(Math.random() * 10);
  }

  get sent(): number {
    return this.next;
  }

  start(): void {
    this.loop = this.run();
  }

  /** Stops new messages; resolves once every message begun has been acknowledged. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    const interval = 1000 / this.opts.ratePerSec;
    let due = Date.now();
    while (!this.stopping || this.outstanding.size > 0 || this.retry.length > 0) {
      const client = await this.ensure();
      while (this.retry.length > 0 && this.outstanding.size < this.opts.window && client.connected) this.publish(client, this.retry.shift()!);
      if (!this.stopping && Date.now() >= due && this.outstanding.size < this.opts.window && client.connected) {
        this.publish(client, { key: `${this.tag}-${this.next++}`, firstSentAt: due, attempts: 0 });
        due += interval;
        continue;
      }
      await sleep(Math.max(1, Math.min(10, due - Date.now())));
    }
    await this.client?.deactivate().catch(() => {});
  }

  private publish(client: Client, o: Outstanding): void {
    o.attempts++;
    const receipt = `${o.key}#${o.attempts}`;
    this.outstanding.set(receipt, o);
    client.watchForReceipt(receipt, (f) => {
      if (!this.outstanding.delete(receipt)) return;
      this.acked.push({
        key: o.key,
        id: f.headers['message-id']!,
        seq: BigInt(f.headers.seq!),
        firstSentAt: o.firstSentAt,
        ackedAt: Date.now(),
        attempts: o.attempts,
        duplicate: f.headers.duplicate === 'true',
      });
    });
    client.publish({ destination: `/topic/rooms.${this.roomId}`, body: o.key, headers: { receipt, 'idempotency-key': o.key } });
  }

  private failAll(why: string): void {
    this.errors.push(why);
    const lost = [...this.outstanding.values()].sort((a, b) => a.firstSentAt - b.firstSentAt);
    this.outstanding.clear();
    this.retry.unshift(...lost);
  }

  private ensure(): Promise<Client> {
    if (this.client?.connected) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      for (;;) {
        const urls = this.urls();
        const url = urls[this.urlIndex++ % urls.length]!;
        try {
          let client: Client | null = null;
          client = await connectStomp(url, this.token, (why) => {
            if (client === null || this.client !== client) return;
            this.client = null;
            this.failAll(why);
          });
          this.client = client;
          return client;
        } catch (err) {
          this.errors.push(`connect ${url}: ${(err as Error).message}`);
          await sleep(200);
        }
      }
    })().finally(() => (this.connecting = null));
    return this.connecting;
  }
}

export interface Delivery {
  id: string;
  seq: bigint;
  key: string;
  at: number;
}

/** A subscriber that records every MESSAGE (duplicates included) and resumes with since-seq after any loss. */
export class RecordingReceiver {
  readonly deliveries: Delivery[] = [];
  reconnects = 0;
  private client: Client | null = null;
  private closed = false;
  private urlIndex: number;

  constructor(
    private readonly urls: () => string[],
    readonly account: Account,
    readonly roomId: string,
    preferred: number,
  ) {
    this.urlIndex = preferred;
  }

  get lastSeq(): bigint {
    return this.deliveries.length ? this.deliveries[this.deliveries.length - 1]!.seq : 0n;
  }

  async start(): Promise<void> {
    while (!this.closed) {
      const urls = this.urls();
      const url = urls[this.urlIndex % urls.length]!;
      try {
        let client: Client | null = null;
        client = await connectStomp(url, this.account.token, () => {
          if (this.closed || client === null || this.client !== client) return;
          this.client = null;
          this.reconnects++;
          this.urlIndex++;
          setTimeout(() => void this.start(), 100);
        });
        this.client = client;
        const subscriber = client;
        await new Promise<void>((resolve, reject) => {
          const receipt = `sub-${Date.now()}-${Math.random()}`;
          subscriber.watchForReceipt(receipt, () => resolve());
          setTimeout(() => reject(new Error('subscribe receipt timeout')), 30_000).unref();
          subscriber.subscribe(
            `/topic/rooms.${this.roomId}`,
            (m) => {
              const body = JSON.parse(m.body) as { content: string };
              this.deliveries.push({ id: m.headers['message-id']!, seq: BigInt(m.headers.seq!), key: body.content, at: Date.now() });
            },
            { receipt, 'since-seq': String(this.lastSeq) },
          );
        });
        return;
      } catch {
        this.urlIndex++;
        await sleep(300);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client?.deactivate().catch(() => {});
  }
}

/** Posts the receiver's read position every `everyMs` while running (REST, on the receiver's current instance). */
export class Reader {
  readonly posted: bigint[] = [];
  readonly failures: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly api: () => Api,
    private readonly receiver: RecordingReceiver,
    private readonly everyMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.everyMs);
  }

  private async tick(): Promise<void> {
    const seq = this.receiver.lastSeq;
    if (this.busy || seq === 0n) return;
    this.busy = true;
    try {
      const r = await this.api().call('POST', `/api/rooms/${this.receiver.roomId}/read`, this.receiver.account.token, { seq: String(seq) });
      if (r.status === 200) this.posted.push(seq);
      else this.failures.push(`${r.status} ${JSON.stringify(r.body)}`);
    } catch (err) {
      this.failures.push((err as Error).message);
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
