// The dead-letter port on Kafka: chat.messages.dlt read with a throwaway consumer group (it commits nothing and is
// deleted afterwards; a read costs one group join, ~20-80 ms here) and records put back with an idempotent producer.
// Used by the app in cluster mode and by `npm run dlt`.
import { randomUUID } from 'node:crypto';
import type { Admin, IHeaders, Kafka, Producer } from 'kafkajs';
import { DLT_HEADERS, type DeadLetterRecord, type DeadLetterTopic, type OutgoingRecord } from '../log/dead-letter.js';
import { TOPICS } from '../log/message-log.js';

export interface KafkaDeadLettersOptions {
  kafka: Kafka;
  /** Default TOPICS.deadLetter. */
  topic?: string;
  /** Prefix of the throwaway reader groups (default chat-dlt-reader). */
  readerGroupPrefix?: string;
  /** A read that has not reached its end after this long fails (default 30 s). */
  readTimeoutMs?: number;
}

function headerText(v: IHeaders[string]): string {
  if (v === undefined) return '';
  if (Array.isArray(v)) return v.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x))).join(',');
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

export class KafkaDeadLetters implements DeadLetterTopic {
  readonly topic: string;
  private admin: Promise<Admin> | null = null;
  private producer: Promise<Producer> | null = null;

  constructor(private readonly opts: KafkaDeadLettersOptions) {
    this.topic = opts.topic ?? TOPICS.deadLetter;
  }

  /** Connected on first use: an instance whose console is never opened holds no extra connection. */
  private connectedAdmin(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = this.opts.kafka.admin();
      await admin.connect();
      return admin;
    })().catch((err: unknown) => {
      this.admin = null;
      throw err;
    });
    return this.admin;
  }

  async bounds(): Promise<Array<{ partition: number; low: bigint; high: bigint }>> {
    const offsets = await (await this.connectedAdmin()).fetchTopicOffsets(this.topic);
    return offsets.map((p) => ({ partition: p.partition, low: BigInt(p.low), high: BigInt(p.high) })).sort((a, b) => a.partition - b.partition);
  }

  async read(partition: number, from: bigint, until: bigint, limit: number): Promise<DeadLetterRecord[]> {
    if (from >= until || limit <= 0) return [];
    const admin = await this.connectedAdmin();
    const groupId = `${this.opts.readerGroupPrefix ?? 'chat-dlt-reader'}-${randomUUID()}`;
    const consumer = this.opts.kafka.consumer({ groupId, maxWaitTimeInMs: 100, sessionTimeout: 10_000, allowAutoTopicCreation: false });
    const out: DeadLetterRecord[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: this.topic, fromBeginning: true });
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          if (batch.partition !== partition) return;
          for (const m of batch.messages) {
            const offset = BigInt(m.offset);
            if (offset < from || offset >= until || out.length >= limit) continue;
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = headerText(v);
            out.push({
              partition,
              offset: m.offset,
              timestamp: headers[DLT_HEADERS.at] ?? new Date(Number(m.timestamp)).toISOString(),
              key: m.key?.toString('utf8') ?? null,
              value: m.value,
              headers,
            });
          }
          if (BigInt(batch.lastOffset()) >= until - 1n || out.length >= limit) finish();
        },
      });
      consumer.seek({ topic: this.topic, partition, offset: from.toString() });
      const timeoutMs = this.opts.readTimeoutMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        finished,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`reading ${this.topic} did not finish within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
    } finally {
      await consumer.disconnect().catch(() => {});
      // The group committed nothing; remove it so it does not linger in the group list.
      await admin.deleteGroups([groupId]).catch(() => {});
    }
    return out.sort((a, b) => (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1));
  }

  async partitionCount(topic: string): Promise<number> {
    const meta = await (await this.connectedAdmin()).fetchTopicMetadata({ topics: [topic] }).catch(() => null);
    return meta?.topics[0]?.partitions.length ?? 0;
  }

  async append(topic: string, partition: number, record: OutgoingRecord): Promise<string> {
    this.producer ??= (async () => {
      const producer = this.opts.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await producer.connect();
      return producer;
    })().catch((err: unknown) => {
      this.producer = null;
      throw err;
    });
    const producer = await this.producer;
    const [meta] = await producer.send({ topic, acks: -1, messages: [{ key: record.key, value: record.value, partition, headers: record.headers }] });
    if (meta?.baseOffset === undefined) throw new Error(`no offset for ${topic}[${partition}] in the produce response`);
    return meta.baseOffset;
  }

  async close(): Promise<void> {
    const [admin, producer] = [this.admin, this.producer];
    this.admin = this.producer = null;
    await Promise.allSettled([admin?.then((a) => a.disconnect()), producer?.then((p) => p.disconnect())]);
  }
}
