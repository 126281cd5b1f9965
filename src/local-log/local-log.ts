// The message log inside one process (embedded mode): Kafka's guarantees on local files.
//
// Layout: <dir>/<topic>/<partition>.log, append-only files of checksummed frames (local-frame.ts), and
// <dir>/groups/ for consumer offsets (local-consumers.ts). Each topic has one writer: appends queued while a
// write is in flight go together into the next one (group commit: one frame per partition per write, so the
// batch grows with the load and an idle log adds no delay). An append resolves only after its frame was written
// with write(2) and, with `fsync` (the default), flushed with fdatasync — so an acknowledged record survives a
// SIGKILL of the process and, with fsync, a power cut. One fdatasync per write costs ~0.3 ms here and is shared
// by every append in it.
//
// Transactions (appendAtomically) write one frame per partition, each marked with the transaction's partitions
// and the topic-wide write number, and become visible to consumers together, after every frame is written. Writes
// are serial, so only the topic's last write can be incomplete after a crash: at load, a transactional frame of the
// last write whose partner frames are not all present is cut off — all or nothing, as Kafka's read_committed.
import { access, constants, mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import type { Appended, NewMessage } from '../shared/model.js';
import { seqFromOffset } from '../shared/model.js';
import { partitionFor, partitionOfKey } from '../log/partitioning.js';
import type { LogRecord } from './frame.js';
import { LocalTopic, type Placed } from './topic.js';

export { LocalTopic } from './topic.js';
import type { MessageLog } from '../log/message-log.js';
import { TOPICS } from '../log/message-log.js';
import { TOPIC_PARTITIONS } from '../shared/defaults.js';

/** Largest record accepted (Kafka's default message.max.bytes is about the same). */
export const MAX_RECORD_BYTES = 1024 * 1024;

export interface LocalMessageLogOptions {
  /** The log's folder (created when missing). */
  dir: string;
  log: Logger;
  metrics?: Metrics;
  /** fdatasync each write before acknowledging it (default true). Without it a write survives a process crash only. */
  fsync?: boolean;
  topics?: Readonly<Record<string, number>>;
}

function messageRecord(m: NewMessage): LogRecord {
  return checked({ key: m.roomId, value: Buffer.from(JSON.stringify(m)), headers: {} });
}

/** Rejects a record too large to write here, so it cannot fail the other appends of its write. */
function checked(r: LogRecord): LogRecord {
  let bytes = (r.value?.length ?? 0) + Buffer.byteLength(r.key ?? '');
  const headers = Object.entries(r.headers);
  for (const [k, v] of headers) {
    // The frame stores a header name's length and the header count in 16 bits.
    if (Buffer.byteLength(k) > 0xffff) throw new Error('a log record header name is longer than 65535 bytes');
    bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (headers.length > 0xffff) throw new Error('a log record has more than 65535 headers');
  if (bytes > MAX_RECORD_BYTES) throw new Error(`a log record of ${bytes} bytes is larger than ${MAX_RECORD_BYTES}`);
  return r;
}

/**
 * The MessageLog port on local files. Same guarantees as the Kafka adapter: per-partition order, durable and
 * numbered (seq = offset + 1) when `append` resolves, transactions all or nothing.
 */
export class LocalMessageLog implements MessageLog {
  private closing: Promise<void> | null = null;
  private closed = false;
  private readonly closeHooks = new Set<() => Promise<void>>();

  private constructor(
    readonly dir: string,
    private readonly topics: Map<string, LocalTopic>,
  ) {}

  static async open(options: LocalMessageLogOptions): Promise<LocalMessageLog> {
    await mkdir(options.dir, { recursive: true });
    const topics = new Map<string, LocalTopic>();
    const opts = { fsync: options.fsync ?? true, log: options.log, metrics: options.metrics };
    try {
      for (const [name, count] of Object.entries(options.topics ?? TOPIC_PARTITIONS)) {
        topics.set(name, await LocalTopic.open(options.dir, name, count, opts));
      }
    } catch (err) {
      await Promise.allSettled([...topics.values()].map((t) => t.close()));
      throw err;
    }
    return new LocalMessageLog(options.dir, topics);
  }

  /** The topic's files (consumer groups read them). Throws for a topic the log does not have. */
  topic(name: string): LocalTopic {
    const t = this.topics.get(name);
    if (!t) throw new Error(`unknown topic ${name}`);
    return t;
  }

  /** true from the start of close() on. */
  get isClosing(): boolean {
    return this.closing !== null;
  }

  /** Runs `hook` first when the log closes (consumer groups stop before their files close). */
  onClose(hook: () => Promise<void>): () => void {
    this.closeHooks.add(hook);
    return () => this.closeHooks.delete(hook);
  }

  append(message: NewMessage): Promise<Appended> {
    return new Promise<Placed>((resolve, reject) => {
      const topic = this.writable(TOPICS.messages);
      const partition = partitionFor(message.roomId, topic.partitions.length);
      const record = messageRecord(message);
      topic.enqueue({ kind: 'one', partition, record, bytes: record.value!.length, resolve, reject });
    }).then(appended);
  }

  appendAtomically(messages: readonly NewMessage[]): Promise<Appended[]> {
    if (messages.length === 0) return Promise.resolve([]);
    return new Promise<Placed[]>((resolve, reject) => {
      const topic = this.writable(TOPICS.messages);
      // Everything that can fail on the input fails here, before anything is written.
      const items = messages.map((m) => ({ partition: partitionFor(m.roomId, topic.partitions.length), record: messageRecord(m) }));
      topic.enqueue({ kind: 'tx', items, resolve, reject });
    }).then((placed) => placed.map(appended));
  }

  async latestSeq(roomId: string): Promise<string> {
    const topic = this.topic(TOPICS.messages);
    // The end offset is the next record's offset, i.e. the seq of the last record (seq = offset + 1).
    return topic.partitions[partitionFor(roomId, topic.partitions.length)]!.endOffset.toString();
  }

  async publish(topicName: string, key: string, value: string | Buffer | object, headers?: Record<string, string>): Promise<void> {
    await new Promise<Placed>((resolve, reject) => {
      const topic = this.writable(topicName);
      const buf = Buffer.isBuffer(value) ? value : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
      const record = checked({ key, value: buf, headers: { ...headers } });
      topic.enqueue({ kind: 'one', partition: partitionOfKey(key, topic.partitions.length), record, bytes: buf.length, resolve, reject });
    });
  }

  /** Appends one record to an explicit partition of a topic (dead-letter replays go back where they came from). */
  appendTo(topicName: string, partition: number, record: LogRecord): Promise<bigint> {
    return new Promise<Placed>((resolve, reject) => {
      const topic = this.writable(topicName);
      if (!Number.isInteger(partition) || partition < 0 || partition >= topic.partitions.length) throw new Error(`${topicName} has no partition ${partition}`);
      const r = checked({ key: record.key, value: record.value, headers: { ...record.headers } });
      topic.enqueue({ kind: 'one', partition, record: r, bytes: r.value?.length ?? 0, resolve, reject });
    }).then((p) => p.offset);
  }

  /** The end offset of every partition of `topic`. */
  endOffsets(topic: string): bigint[] {
    return this.topic(topic).partitions.map((p) => p.endOffset);
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('message log closed');
    await access(this.dir, constants.W_OK);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      // Consumer groups stop first (a batch in flight may still dead-letter a record), then writing stops.
      for (const hook of [...this.closeHooks]) await hook().catch(() => {});
      this.closed = true;
      // Appends accepted before close are written before the files close.
      await Promise.allSettled([...this.topics.values()].map((t) => t.close()));
    })();
    return this.closing;
  }

  private writable(name: string): LocalTopic {
    if (this.closed) throw new Error('message log closed');
    return this.topic(name);
  }
}

function appended(p: Placed): Appended {
  return { partition: p.partition, offset: p.offset.toString(), seq: seqFromOffset(p.offset) };
}
