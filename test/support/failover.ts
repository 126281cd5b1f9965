// Clients for failover tests: a subscriber that never reconnects (so whatever it got came live, gap repairs included)
// and records when each MESSAGE arrived; a reader that marks a room read over STOMP until each mark is RECEIPTed,
// reconnecting after any error, and records what every RECEIPT said; the dead letters written meanwhile.
import { randomUUID } from 'node:crypto';
import type { Client } from '@stomp/stompjs';
import { Kafka, logLevel } from '../../src/kafka/kafkajs.js';
import { TOPICS } from '../../src/shared/defaults.js';
import { sleep, withDeadline } from './cluster.js';
import { connectStomp as connect } from './resilient.js';

export interface Delivery {
  id: string;
  seq: bigint;
  createdAt: number;
  receivedAt: number;
}

/** One connection, one live subscription (no since-seq): what it receives came through the hub. */
export class LiveSubscriber {
  readonly got: Delivery[] = [];
  /** Why the connection ended before close() (must stay empty for "live delivery resumed by itself"). */
  readonly lost: string[] = [];
  private client: Client | null = null;
  private closing = false;

  private constructor(readonly name: string) {}

  static async start(name: string, url: string, token: string, roomId: string): Promise<LiveSubscriber> {
    const s = new LiveSubscriber(name);
    s.client = await connect(url, token, (why) => !s.closing && s.lost.push(why));
    const receipt = `sub-${name}`;
    const subscribed = new Promise<void>((resolve) => s.client!.watchForReceipt(receipt, () => resolve()));
    s.client.subscribe(
      `/topic/rooms.${roomId}`,
      (m) => s.got.push({ id: m.headers['message-id']!, seq: BigInt(m.headers.seq!), createdAt: Date.parse(m.headers['created-at']!), receivedAt: Date.now() }),
      { receipt },
    );
    await withDeadline(subscribed, 20_000, `subscribe ${name}`);
    return s;
  }

  get ids(): string[] {
    return this.got.map((d) => d.id);
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.client?.deactivate().catch(() => {});
  }
}

/** Marks `/app/rooms.<id>.read` until RECEIPTed, reconnecting (rotating instances) after any error. */
export class ResilientReader {
  /** Every RECEIPT's last-read-seq, in order: a read position never moves backwards, so neither may these. */
  readonly positions: bigint[] = [];
  readonly errors: string[] = [];
  private client: Client | null = null;
  private turn = 0;
  private failPending: ((why: string) => void) | null = null;

  constructor(
    private readonly urls: () => string[],
    private readonly token: string,
    private readonly roomId: string,
  ) {}

  /** The highest position a RECEIPT acknowledged ('0' before any). */
  get acked(): bigint {
    return this.positions.reduce((a, b) => (b > a ? b : a), 0n);
  }

  /** Marks the room read up to `seq`; resolves with the RECEIPT's last-read-seq once one came. */
  async mark(seq: bigint): Promise<bigint> {
    for (let attempt = 1; ; attempt++) {
      try {
        const client = await this.ensure();
        const receipt = `read-${seq}-${attempt}-${Math.random().toString(36).slice(2)}`;
        const headers = await withDeadline(
          new Promise<Record<string, string>>((resolve, reject) => {
            this.failPending = (why) => reject(new Error(why));
            client.watchForReceipt(receipt, (f) => resolve(f.headers));
            client.publish({
              destination: `/app/rooms.${this.roomId}.read`,
              body: JSON.stringify({ seq: String(seq) }),
              headers: { receipt, 'content-type': 'application/json' },
            });
          }),
          20_000,
          'read receipt',
        );
        const position = BigInt(headers['last-read-seq']!);
        this.positions.push(position);
        return position;
      } catch (err) {
        this.errors.push((err as Error).message);
        await this.client?.deactivate().catch(() => {});
        this.client = null;
        await sleep(100);
      } finally {
        this.failPending = null;
      }
    }
  }

  private async ensure(): Promise<Client> {
    if (this.client?.connected) return this.client;
    const urls = this.urls();
    this.client = await connect(urls[this.turn++ % urls.length]!, this.token, (why) => {
      this.client = null;
      this.failPending?.(why);
    });
    return this.client;
  }

  async close(): Promise<void> {
    await this.client?.deactivate().catch(() => {});
  }
}

const DLT = TOPICS.deadLetter;

/**
 * Dead letters of the topic from `since` (its end offset when a test began, see dltEnd) to its end now: the test's own
 * among them are those keyed by its rooms (other tests on the shared broker write poison records of their own rooms,
 * which every consumer group, this test's included, dead-letters too).
 */
export async function deadLettersSince(brokers: string[], since: bigint): Promise<Array<{ key: string | null; headers: Record<string, string> }>> {
  const kafka = new Kafka({ clientId: 'test-dlt-reader', brokers, logLevel: logLevel.NOTHING });
  const until = await dltEnd(brokers);
  if (until <= since) return [];
  const consumer = kafka.consumer({ groupId: `test-dlt-reader-${randomUUID()}` });
  const out: Array<{ key: string | null; headers: Record<string, string> }> = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: DLT });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (BigInt(message.offset) < since) return;
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
        out.push({ key: message.key?.toString() ?? null, headers });
        if (BigInt(message.offset) + 1n >= until) done();
      },
    });
    consumer.seek({ topic: DLT, partition: 0, offset: since.toString() });
    await withDeadline(finished, 60_000, 'reading the dead letters');
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** The dead-letter topic's end offset (its one partition). */
export async function dltEnd(brokers: string[]): Promise<bigint> {
  const admin = new Kafka({ clientId: 'test-dlt-offsets', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const [p] = await admin.fetchTopicOffsets(DLT);
    return BigInt(p?.high ?? '0');
  } finally {
    await admin.disconnect();
  }
}
