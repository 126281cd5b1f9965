// The embedded message log's on-disk frame: one write of one partition file, holding a batch of records.
// A frame is checked as a whole (length + CRC-32 of its payload), so a write torn by a crash is recognised at
// load and cut off: a batch, and a transaction's part in one partition, is visible entirely or not at all.
//
//   header   u32 magic | u32 payload length | u32 crc32(payload)                              (little endian)
//   payload  u8 version | u8 flags | u16 n | n × u16 partition (the transaction's partitions)
//            u64 write seq | u64 base offset | u32 record count | records
//   record   i32 key length (-1 = null) | key | i32 value length (-1 = null) | value
//            u16 header count | (u16 name length | name | u32 value length | value) × count
import { crc32 } from 'node:zlib';

export const FRAME_MAGIC = 0x4c4c4843; // "CHLL"
export const FRAME_HEADER_BYTES = 12;
/** Larger frames are never written; a header claiming more is garbage (a torn or corrupt tail). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;
const VERSION = 1;
const FLAG_TRANSACTIONAL = 1;

export interface LogRecord {
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** What a frame says about itself, without its records. */
export interface FrameMeta {
  /** The topic-wide number of the write this frame belongs to (frames of one transaction share it). */
  writeSeq: bigint;
  baseOffset: bigint;
  count: number;
  /** For a transaction's frame: every partition the transaction wrote to (itself included); else empty. */
  participants: number[];
  /** Bytes of the whole frame, header included. */
  size: number;
}

export type FrameScan =
  | { status: 'ok'; meta: FrameMeta; payload: Buffer; recordsAt: number }
  /** More bytes are needed: `size` is the whole frame's size when the header is complete. */
  | { status: 'incomplete'; size: number | null }
  | { status: 'corrupt'; reason: string };

export function encodeFrame(writeSeq: bigint, baseOffset: bigint, records: readonly LogRecord[], participants: readonly number[] = []): Buffer {
  const parts: Buffer[] = [];
  const fixed = Buffer.alloc(4 + participants.length * 2 + 20);
  fixed.writeUInt8(VERSION, 0);
  fixed.writeUInt8(participants.length > 0 ? FLAG_TRANSACTIONAL : 0, 1);
  fixed.writeUInt16LE(participants.length, 2);
  participants.forEach((p, i) => fixed.writeUInt16LE(p, 4 + i * 2));
  let at = 4 + participants.length * 2;
  fixed.writeBigUInt64LE(writeSeq, at);
  fixed.writeBigUInt64LE(baseOffset, at + 8);
  fixed.writeUInt32LE(records.length, at + 16);
  parts.push(fixed);
  for (const r of records) {
    const key = r.key === null ? null : Buffer.from(r.key, 'utf8');
    const headers = Object.entries(r.headers);
    const head = Buffer.alloc(4);
    head.writeInt32LE(key === null ? -1 : key.length, 0);
    parts.push(head);
    if (key) parts.push(key);
    const vlen = Buffer.alloc(4);
    vlen.writeInt32LE(r.value === null ? -1 : r.value.length, 0);
    parts.push(vlen);
    if (r.value) parts.push(r.value);
    const hcount = Buffer.alloc(2);
    hcount.writeUInt16LE(headers.length, 0);
    parts.push(hcount);
    for (const [name, value] of headers) {
      const n = Buffer.from(name, 'utf8');
      const v = Buffer.from(value, 'utf8');
      const lens = Buffer.alloc(2);
      lens.writeUInt16LE(n.length, 0);
      const vl = Buffer.alloc(4);
      vl.writeUInt32LE(v.length, 0);
      parts.push(lens, n, vl, v);
    }
  }
  const payload = Buffer.concat(parts);
  if (payload.length + FRAME_HEADER_BYTES > MAX_FRAME_BYTES) throw new Error(`a log frame of ${payload.length} bytes is too large`);
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32LE(FRAME_MAGIC, 0);
  header.writeUInt32LE(payload.length, 4);
  header.writeUInt32LE(crc32(payload), 8);
  return Buffer.concat([header, payload]);
}

/** Reads the frame starting at `pos` of `buf` (a window of the file): checks its size and checksum. */
export function scanFrame(buf: Buffer, pos: number): FrameScan {
  if (buf.length - pos < FRAME_HEADER_BYTES) return { status: 'incomplete', size: null };
  if (buf.readUInt32LE(pos) !== FRAME_MAGIC) return { status: 'corrupt', reason: 'bad magic' };
  const length = buf.readUInt32LE(pos + 4);
  const size = FRAME_HEADER_BYTES + length;
  if (size > MAX_FRAME_BYTES || length < 24) return { status: 'corrupt', reason: `implausible frame length ${length}` };
  if (buf.length - pos < size) return { status: 'incomplete', size };
  const payload = buf.subarray(pos + FRAME_HEADER_BYTES, pos + size);
  if (crc32(payload) !== buf.readUInt32LE(pos + 8)) return { status: 'corrupt', reason: 'checksum mismatch' };
  try {
    if (payload.readUInt8(0) !== VERSION) return { status: 'corrupt', reason: `unknown frame version ${payload.readUInt8(0)}` };
    const transactional = (payload.readUInt8(1) & FLAG_TRANSACTIONAL) !== 0;
    const n = payload.readUInt16LE(2);
    const participants: number[] = [];
    for (let i = 0; i < n; i++) participants.push(payload.readUInt16LE(4 + i * 2));
    if (transactional !== n > 0) return { status: 'corrupt', reason: 'inconsistent transaction flag' };
    const at = 4 + n * 2;
    const meta: FrameMeta = {
      writeSeq: payload.readBigUInt64LE(at),
      baseOffset: payload.readBigUInt64LE(at + 8),
      count: payload.readUInt32LE(at + 16),
      participants,
      size,
    };
    return { status: 'ok', meta, payload, recordsAt: at + 20 };
  } catch (err) {
    return { status: 'corrupt', reason: `unreadable frame: ${(err as Error).message}` };
  }
}

/** The records of a frame that scanFrame accepted (the checksum matched, so a failure here is a bug). */
export function decodeRecords(payload: Buffer, recordsAt: number, count: number): LogRecord[] {
  const out: LogRecord[] = [];
  let at = recordsAt;
  for (let i = 0; i < count; i++) {
    const klen = payload.readInt32LE(at);
    at += 4;
    const key = klen < 0 ? null : payload.toString('utf8', at, at + klen);
    at += Math.max(klen, 0);
    const vlen = payload.readInt32LE(at);
    at += 4;
    // A copy: the record outlives the read buffer (handlers may keep it).
    const value = vlen < 0 ? null : Buffer.from(payload.subarray(at, at + vlen));
    at += Math.max(vlen, 0);
    const hcount = payload.readUInt16LE(at);
    at += 2;
    const headers: Record<string, string> = {};
    for (let h = 0; h < hcount; h++) {
      const nlen = payload.readUInt16LE(at);
      at += 2;
      const name = payload.toString('utf8', at, at + nlen);
      at += nlen;
      const hvlen = payload.readUInt32LE(at);
      at += 4;
      headers[name] = payload.toString('utf8', at, at + hvlen);
      at += hvlen;
    }
    out.push({ key, value, headers });
  }
  if (at !== payload.length) throw new Error(`log frame has ${payload.length - at} trailing bytes`);
  return out;
}
