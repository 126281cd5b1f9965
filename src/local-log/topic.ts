// One topic of the local message log: its partition files and its single writer (group commit, transactions written
// one frame per partition and rolled back at load when a crash cut them short). See local-log.ts for the format.
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.js';
import { encodeFrame, type FrameMeta, type LogRecord } from './frame.js';
import { PartitionFile } from './partition.js';
import { TOPICS } from '../log/message-log.js';

/** Caps on one write (the rest waits for the next). */
const MAX_WRITE_RECORDS = 1000;
const MAX_WRITE_BYTES = 4 * 1024 * 1024;
export interface Placed {
  partition: number;
  offset: bigint;
}

export interface QueuedAppend {
  kind: 'one';
  partition: number;
  record: LogRecord;
  bytes: number;
  resolve(p: Placed): void;
  reject(err: unknown): void;
}

export interface QueuedTransaction {
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
          const frame = encodeFrame(
            writeSeq,
            base,
            appends.map((a) => a.record),
          );
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
    log.warn(
      { topic, partition: i, offset: String(p.lastFrame.baseOffset), records: p.lastFrame.count },
      'message log: rolling back an incomplete transaction',
    );
    await p.dropLastFrame();
  }
}
