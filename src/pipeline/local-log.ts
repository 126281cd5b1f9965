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
import { access, constants, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import type { Appended, NewMessage } from '../shared/model.js';
import { seqFromOffset } from '../shared/model.js';
import { partitionFor } from './kafka.js';
import { encodeFrame, type FrameMeta, type LogRecord } from './local-frame.js';
import { PartitionFile } from './local-partition.js';
import type { MessageLog } from './message-log.js';
import { TOPICS } from './message-log.js';

/** Partitions per topic, as `npm run stack:up` creates them on Kafka. */
export const LOCAL_TOPICS: Readonly<Record<string, number>> = {
  [TOPICS.messages]: 6,
  [TOPICS.readReceipts]: 3,
  [TOPICS.deadLetter]: 1,
};

/** Caps on one write (the rest waits for the next). */
const MAX_WRITE_RECORDS = 1000;
const MAX_WRITE_BYTES = 4 * 1024 * 1024;
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

interface Placed {
  partition: number;
  offset: bigint;
}

interface QueuedAppend {
  kind: 'one';
  partition: number;
  record: LogRecord;
  bytes: number;
  resolve(p: Placed): void;
  reject(err: unknown): void;
}

interface QueuedTransaction {
  kind: 'tx';
  items: Array<{ partition: number; record: LogRecord }>;
  resolve(p: Placed[]): void;
  reject(err: unknown): void;
}

/** One topic: its partition files and its single writer. */
export class LocalTopic {
  private queue: Array<QueuedAppend | QueuedTransaction> = [];
  private writing = false;
  private drained: Array<() => void> = [];
  /** Set when a failed write could not be undone: the files may not match memory, so writing stops. */
  private broken: Error | null = null;
  private nextWriteSeq: bigint;

  private constructor(
    readonly name: string,
    readonly partitions: PartitionFile[],
    private readonly opts: { fsync: boolean; log: Logger; metrics?: Metrics },
  ) {
    let max = 0n;
    for (const p of partitions) if (p.lastFrame && p.lastFrame.writeSeq > max) max = p.lastFrame.writeSeq;
    this.nextWriteSeq = max + 1n;
  }

  static async open(dir: string, name: string, count: number, opts: { fsync: boolean; log: Logger; metrics?: Metrics }): Promise<LocalTopic> {
    const topicDir = join(dir, name);
    await mkdir(topicDir, { recursive: true });
    // A room's partition depends on the count: a folder written with another count would break every room's order.
    const extra = (await readdir(topicDir)).filter((f) => /^\d+\.log$/.test(f) && Number.parseInt(f, 10) >= count);
    if (extra.length > 0) throw new Error(`message log topic ${name} in ${topicDir} has more partitions than ${count} (${extra.join(', ')})`);
    const partitions: PartitionFile[] = [];
    try {
      for (let i = 0; i < count; i++) partitions.push(await PartitionFile.open(join(topicDir, `${i}.log`), opts.log));
      await rollBackIncompleteTransaction(name, partitions, opts.log);
    } catch (err) {
      await Promise.allSettled(partitions.map((p) => p.close()));
      throw err;
    }
    return new LocalTopic(name, partitions, opts);
  }

  enqueue(item: QueuedAppend | QueuedTransaction): void {
    if (this.broken) return item.reject(new Error(`message log topic ${this.name} is out of service`, { cause: this.broken }));
    this.queue.push(item);
    // setImmediate, not a microtask: appends made in the same turn of the event loop share the first write.
    if (!this.writing) {
      this.writing = true;
      setImmediate(() => void this.drain());
    }
  }

  /** Resolves once every queued write is done. */
  idle(): Promise<void> {
    if (!this.writing) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const first = this.queue[0]!;
        if (first.kind === 'tx') {
          this.queue.shift();
          await this.writeTransaction(first);
          continue;
        }
        // The leading run of single appends, capped.
        let n = 0;
        let bytes = 0;
        for (const item of this.queue) {
          if (item.kind !== 'one' || n >= MAX_WRITE_RECORDS || bytes >= MAX_WRITE_BYTES) break;
          n++;
          bytes += item.bytes;
        }
        await this.writeAppends(this.queue.splice(0, n) as QueuedAppend[]);
      }
    } catch (err) {
      // The writes catch their own failures; this is a bug. Fail what waits rather than leave it hanging.
      this.opts.log.error({ err, topic: this.name }, 'message log writer failed');
      for (const item of this.queue.splice(0)) item.reject(err);
    } finally {
      this.writing = false;
      const drained = this.drained;
      this.drained = [];
      for (const d of drained) d();
    }
  }

  private async writeAppends(run: QueuedAppend[]): Promise<void> {
    const started = performance.now();
    const byPartition = new Map<number, QueuedAppend[]>();
    for (const a of run) {
      const list = byPartition.get(a.partition);
      if (list) list.push(a);
      else byPartition.set(a.partition, [a]);
    }
    const writeSeq = this.nextWriteSeq++;
    // Partitions are independent: each gets its own frame, and a failure in one fails only its appends.
    await Promise.all(
      [...byPartition].map(async ([partition, appends]) => {
        const file = this.partitions[partition]!;
        try {
          if (this.broken) throw this.broken;
          const base = file.endOffset;
          const frame = encodeFrame(writeSeq, base, appends.map((a) => a.record));
          await file.write(frame, this.opts.fsync);
          file.publish(meta(writeSeq, base, appends.length, frame.length));
          appends.forEach((a, i) => a.resolve({ partition, offset: base + BigInt(i) }));
        } catch (err) {
          this.opts.log.warn({ err, topic: this.name, partition }, 'message log write failed');
          for (const a of appends) a.reject(err);
        }
      }),
    );
    if (this.name === TOPICS.messages && this.opts.metrics) {
      this.opts.metrics.produceBatchSize.observe(run.length);
      this.opts.metrics.produceLatency.observe((performance.now() - started) / 1000);
    }
  }

  private async writeTransaction(tx: QueuedTransaction): Promise<void> {
    const byPartition = new Map<number, LogRecord[]>();
    for (const { partition, record } of tx.items) {
      const list = byPartition.get(partition);
      if (list) list.push(record);
      else byPartition.set(partition, [record]);
    }
    const participants = [...byPartition.keys()].sort((a, b) => a - b);
    const writeSeq = this.nextWriteSeq++;
    const written: Array<{ file: PartitionFile; meta: FrameMeta }> = [];
    try {
      if (this.broken) throw this.broken;
      for (const partition of participants) {
        const file = this.partitions[partition]!;
        const records = byPartition.get(partition)!;
        const frame = encodeFrame(writeSeq, file.endOffset, records, participants);
        await file.write(frame, this.opts.fsync);
        written.push({ file, meta: meta(writeSeq, file.endOffset, records.length, frame.length, participants) });
      }
    } catch (err) {
      this.opts.log.warn({ err, topic: this.name }, 'message log transaction write failed');
      // Undo the frames already written. If that fails, stop writing the topic: the load-time check rolls back
      // only the last write, and a later write would hide the orphan frames from it.
      for (const { file } of written) {
        await file.unwrite().catch((e: unknown) => {
          this.broken ??= new Error(`could not roll back a failed transaction in ${this.name}`, { cause: e });
        });
      }
      if (participants.some((i) => this.partitions[i]!.isBroken)) {
        this.broken ??= new Error(`could not roll back a failed transaction in ${this.name}`, { cause: err });
      }
      if (this.broken) this.opts.log.error({ err: this.broken, topic: this.name }, 'message log out of service');
      return tx.reject(err);
    }
    // Every frame is written: all of them become visible at once.
    for (const { file, meta: m } of written) file.publish(m);
    const next = new Map(written.map(({ meta: m }, i) => [participants[i]!, m.baseOffset]));
    tx.resolve(
      tx.items.map(({ partition }) => {
        const offset = next.get(partition)!;
        next.set(partition, offset + 1n);
        return { partition, offset };
      }),
    );
  }

  async close(): Promise<void> {
    await this.idle();
    await Promise.allSettled(this.partitions.map((p) => p.close()));
  }
}

function meta(writeSeq: bigint, baseOffset: bigint, count: number, size: number, participants: number[] = []): FrameMeta {
  return { writeSeq, baseOffset, count, size, participants };
}

/**
 * Writes are serial, so only the topic's last write can be incomplete: if its frames are transactional and a
 * partition it names does not end with a frame of the same write, the transaction did not finish — cut its
 * frames off everywhere.
 */
async function rollBackIncompleteTransaction(topic: string, partitions: PartitionFile[], log: Logger): Promise<void> {
  let last: FrameMeta | null = null;
  for (const p of partitions) if (p.lastFrame && (!last || p.lastFrame.writeSeq > last.writeSeq)) last = p.lastFrame;
  if (!last || last.participants.length === 0) return;
  const writeSeq = last.writeSeq;
  const complete = last.participants.every((i) => partitions[i]?.lastFrame?.writeSeq === writeSeq);
  if (complete) return;
  for (const [i, p] of partitions.entries()) {
    if (p.lastFrame?.writeSeq !== writeSeq) continue;
    log.warn({ topic, partition: i, offset: String(p.lastFrame.baseOffset), records: p.lastFrame.count }, 'message log: rolling back an incomplete transaction');
    await p.dropLastFrame();
  }
}

/** Where the log puts a key: rooms (decimal ids) as partitionFor does, any other key by a hash. */
function partitionOfKey(key: string, partitions: number): number {
  if (/^\d{1,19}$/.test(key)) return partitionFor(key, partitions);
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0;
  return (h >>> 0) % partitions;
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
      for (const [name, count] of Object.entries(options.topics ?? LOCAL_TOPICS)) {
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
