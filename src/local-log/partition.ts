// One partition of the embedded message log: an append-only file of frames (local-frame.ts). Records are read
// back from the file — memory holds only a sparse index (a frame start every INDEX_INTERVAL bytes), so a big log
// costs little RAM — and readers are woken as soon as a write becomes visible.
import { open, type FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import { decodeRecords, scanFrame, type FrameMeta, type FrameScan, type LogRecord } from './frame.js';

/** A frame start is indexed at least every this many bytes (Kafka's index.interval.bytes, coarser). */
const INDEX_INTERVAL = 64 * 1024;
const READ_CHUNK = 256 * 1024;

export interface StoredRecord extends LogRecord {
  offset: bigint;
}

/** Where a reader is: the start of the frame holding `offset` (its base offset is `base`). */
export interface Cursor {
  pos: number;
  base: bigint;
}

/** A window of the file held in memory while scanning it. */
interface Window {
  buf: Buffer;
  start: number;
}

export class PartitionFile {
  /** The next offset to be written: records [0, endOffset) are visible. */
  endOffset = 0n;
  /** Bytes of visible frames (the file may hold more only while a write is in flight). */
  size = 0;
  /** The last visible frame (the load-time transaction check looks at it). */
  lastFrame: (FrameMeta & { pos: number }) | null = null;
  private readonly index: Cursor[] = [];
  /** The state before the last visible frame (one step of undo, for dropLastFrame). */
  private undo: { endOffset: bigint; size: number; lastFrame: PartitionFile['lastFrame']; indexLength: number } | null = null;
  private waiters: Array<() => void> = [];
  private closed = false;
  private broken: unknown = null;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
  ) {}

  /**
   * Opens (creating) the file and scans it: every frame's checksum is verified, and the file is cut at the first
   * frame that does not verify — the tail of a write torn by a crash.
   */
  static async open(path: string, log: Logger): Promise<PartitionFile> {
    const fh = await open(path, 'a+');
    const p = new PartitionFile(path, fh);
    try {
      const fileSize = (await fh.stat()).size;
      const win: Window = { buf: Buffer.alloc(0), start: 0 };
      let pos = 0;
      let problem: string | null = null;
      while (pos < fileSize) {
        const scan = await p.frameAt(win, pos, fileSize);
        if (scan.status !== 'ok') {
          problem = scan.status === 'corrupt' ? scan.reason : 'a frame cut short';
          break;
        }
        if (scan.meta.baseOffset !== p.endOffset) {
          problem = `frame at byte ${pos} starts at offset ${scan.meta.baseOffset}, expected ${p.endOffset}`;
          break;
        }
        p.appended(pos, scan.meta);
        pos += scan.meta.size;
      }
      if (problem !== null) {
        log.warn({ file: path, validBytes: pos, droppedBytes: fileSize - pos, reason: problem }, 'message log: cutting a torn tail');
        await fh.truncate(pos);
      }
      return p;
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
  }

  /** The frame at byte `pos` (below `limit`), reading into the window when it does not hold the whole frame. */
  private async frameAt(win: Window, pos: number, limit: number): Promise<FrameScan> {
    let scan = pos >= win.start ? scanFrame(win.buf, pos - win.start) : ({ status: 'incomplete', size: null } as const);
    // At most two reads: a chunk, then the exact size of a frame larger than the chunk.
    for (let i = 0; i < 2 && scan.status === 'incomplete'; i++) {
      const len = Math.min(Math.max(READ_CHUNK, scan.size ?? 0), limit - pos);
      if (len <= 0 || (i > 0 && (scan.size === null || scan.size > len))) break;
      const buf = Buffer.alloc(len);
      const { bytesRead } = await this.fh.read(buf, 0, len, pos);
      win.buf = buf.subarray(0, bytesRead);
      win.start = pos;
      scan = scanFrame(win.buf, 0);
    }
    return scan;
  }

  /** Records a frame written at `pos` as visible (called in write order). */
  private appended(pos: number, meta: FrameMeta): void {
    this.undo = { endOffset: this.endOffset, size: this.size, lastFrame: this.lastFrame, indexLength: this.index.length };
    const lastIndexed = this.index[this.index.length - 1];
    if (!lastIndexed || pos - lastIndexed.pos >= INDEX_INTERVAL) this.index.push({ pos, base: meta.baseOffset });
    this.lastFrame = { ...meta, pos };
    this.endOffset = meta.baseOffset + BigInt(meta.count);
    this.size = pos + meta.size;
  }

  /**
   * Appends one encoded frame (its base offset must be endOffset) and, with `sync`, waits until it is on disk.
   * The frame is not visible until `publish`: a transaction publishes its frames together, after all of them are
   * written. On failure the file is cut back, so nothing of the frame remains.
   */
  async write(frame: Buffer, sync: boolean): Promise<void> {
    if (this.closed) throw new Error('message log closed');
    if (this.broken) throw new Error(`message log file ${this.path} is out of service`, { cause: this.broken });
    try {
      let done = 0;
      while (done < frame.length) {
        const { bytesWritten } = await this.fh.write(frame, done, frame.length - done, null);
        done += bytesWritten;
      }
      if (sync) await this.fh.datasync();
    } catch (err) {
      await this.unwrite();
      throw err;
    }
  }

  /** true once a failed write could not be undone (the file takes no more writes). */
  get isBroken(): boolean {
    return this.broken !== null;
  }

  /** Makes the frame just written visible and wakes the readers. */
  publish(meta: FrameMeta): void {
    this.appended(this.size, meta);
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Cuts a written but unpublished frame off again (a transaction that failed in another partition). */
  async unwrite(): Promise<void> {
    try {
      await this.fh.truncate(this.size);
    } catch (err) {
      // Bytes of a failed write may remain: a later frame after them would be cut off with them at the next
      // load, so this file takes no more writes.
      this.broken = err;
      throw err;
    }
  }

  /** Load-time rollback of the last frame (part of a transaction that a crash left incomplete). */
  async dropLastFrame(): Promise<void> {
    const undo = this.undo;
    if (!this.lastFrame || !undo) throw new Error('no frame to drop');
    await this.fh.truncate(this.lastFrame.pos);
    this.endOffset = undo.endOffset;
    this.size = undo.size;
    this.lastFrame = undo.lastFrame;
    this.index.length = undo.indexLength;
    this.undo = null;
  }

  /** Resolves at the next write of this partition (or at close). Check endOffset first: nothing is missed between. */
  nextWrite(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Up to `maxRecords` records (and about `maxBytes` of values) from offset `from` on, in order, read from the
   * file. `hint` (the cursor a previous read returned) saves the index lookup when reading sequentially.
   */
  async read(from: bigint, hint: Cursor | null, maxRecords: number, maxBytes: number): Promise<{ records: StoredRecord[]; next: Cursor }> {
    if (this.closed) throw new Error('message log closed');
    const end = this.size; // what is visible now; later writes are for the next read
    let cursor = hint && hint.base <= from && hint.pos <= end ? hint : this.seek(from);
    const records: StoredRecord[] = [];
    let bytes = 0;
    const win: Window = { buf: Buffer.alloc(0), start: cursor.pos };
    while (cursor.pos < end && records.length < maxRecords && bytes < maxBytes) {
      const scan = await this.frameAt(win, cursor.pos, end);
      if (scan.status !== 'ok') {
        throw new Error(`message log ${this.path}: ${scan.status === 'corrupt' ? scan.reason : 'frame cut short'} at byte ${cursor.pos}`);
      }
      const { meta } = scan;
      const frameEnd = meta.baseOffset + BigInt(meta.count);
      if (frameEnd > from) {
        const recs = decodeRecords(scan.payload, scan.recordsAt, meta.count);
        const first = from > meta.baseOffset ? Number(from - meta.baseOffset) : 0;
        for (let i = first; i < recs.length && records.length < maxRecords; i++) {
          const r = recs[i]!;
          records.push({ ...r, offset: meta.baseOffset + BigInt(i) });
          bytes += (r.value?.length ?? 0) + (r.key?.length ?? 0);
        }
        if (records.length > 0) from = records[records.length - 1]!.offset + 1n;
      }
      // Stopped inside this frame (maxRecords): the next read starts again at this frame.
      if (from < frameEnd) break;
      cursor = { pos: cursor.pos + meta.size, base: frameEnd };
    }
    return { records, next: cursor };
  }

  /** The indexed frame start at or before `offset`, from which a read scans forward. */
  private seek(offset: bigint): Cursor {
    let lo = 0;
    let hi = this.index.length - 1;
    let best: Cursor = { pos: 0, base: 0n };
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const e = this.index[mid]!;
      if (e.base <= offset) {
        best = e;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
    await this.fh.close();
  }
}
