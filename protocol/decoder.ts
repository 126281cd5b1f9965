// STOMP stream decoder: bytes in (any chunking), frames out, with size limits enforced before buffering and header
// escapes decoded as the connection's protocol version (1.0, 1.1 or 1.2) requires.
//
// Modelled on websockets/ws lib/receiver.js: explicit numeric states in one dispatch loop, delimiters found
// with indexOf, limits checked before anything is retained. A frame that lies inside one pushed chunk is
// decoded in place (the body is a view of the chunk, no copy). Only a read that spans chunks copies: a partial
// command/header line into one reusable line buffer (<= maxHeaderBytes + 2), a partial body into one buffer
// of the final size (content-length) or a growing one capped by maxFrameBytes (NUL-terminated body).
// Retaining copies rather than views of the pushed chunks bounds memory by bytes actually kept, whatever the
// chunking (1-byte chunks cannot pin thousands of Buffer objects or their parent slabs).

import { isUtf8 } from 'node:buffer';
import { badFrame, frameTooLarge } from './errors.js';
import { unescapeHeader } from './escape.js';
import { ALL_COMMANDS, CLIENT_COMMANDS, SERVER_COMMANDS, checkVersion, usesEscaping } from './frame.js';
import type { Frame, StompVersion } from './frame.js';

/** Size limits (STOMP 1.2 "Size Limits"). Breaches throw before the offending bytes are retained. */
export interface DecoderLimits {
  /**
   * Largest frame in bytes as it is on the wire: command line, header lines and blank line (EOLs included),
   * body and the terminating NUL; heart-beat EOLs between frames do not count. A content-length that cannot
   * fit is refused as soon as its header is read, before any body byte is buffered. Default 65536.
   */
  maxFrameBytes: number;
  /** Most header lines in one frame, repeated names included. Default 32. */
  maxHeaders: number;
  /** Longest header line in bytes, `name:value` in escaped form, EOL excluded. Default 1024. */
  maxHeaderBytes: number;
  /** Longest command line in bytes, EOL excluded; more bytes without EOL are an error at once. Default 32. */
  maxCommandBytes: number;
}

/** Decoder options: limits plus which commands are accepted. */
export interface DecoderOptions extends Partial<DecoderLimits> {
  /**
   * Accepted commands: a server decodes `'client'` commands, a client `'server'` ones. Default `'any'`.
   * Any other command line throws StompProtocolError('bad-frame', 'unknown-command').
   */
  commands?: 'client' | 'server' | 'any';
  /** Initial value of {@link StompDecoder.version}. Default `'1.2'`. */
  version?: StompVersion;
}

/** Callbacks, called synchronously from {@link StompDecoder.push}. */
export interface DecoderHandlers {
  /** One complete frame. The decoder never touches the frame again. */
  onFrame(frame: Frame): void;
  /**
   * One EOL (LF or CRLF) between frames, including those right after a frame's NUL: a heart-beat.
   * @param trailing true for the first EOL directly after a frame's NUL (nothing else between them, whatever the
   *   chunking). STOMP allows EOLs there and our encoder always writes one, so a peer that counts the other side's
   *   heart-beats may skip these; for liveness any EOL (any byte) is proof of life.
   */
  onHeartbeat?(trailing: boolean): void;
}

/** Defaults of {@link DecoderLimits}. */
export const DEFAULT_DECODER_LIMITS: Readonly<DecoderLimits> = Object.freeze({
  maxFrameBytes: 65536,
  maxHeaders: 32,
  maxHeaderBytes: 1024,
  maxCommandBytes: 32,
});

const LF = 10;
const CR = 13;
const NUL = 0;
const COLON = 58;
const BACKSLASH = 92;

// Flags collected while scanning a header name or value, by byte class.
const F_ESCAPE = 1;
const F_NON_ASCII = 2;
const F_CR = 4;
const F_COLON = 8;
const BYTE_CLASS = new Uint8Array(256);
BYTE_CLASS[BACKSLASH] = F_ESCAPE;
BYTE_CLASS[CR] = F_CR;
BYTE_CLASS[COLON] = F_COLON;
BYTE_CLASS.fill(F_NON_ASCII, 128);

// States of the dispatch loop.
const S_IDLE = 0; // between frames: EOLs are heart-beats, anything else starts a command line
const S_IDLE_CR = 1; // between frames, after a CR: only LF may follow
const S_COMMAND = 2; // reading the command line
const S_HEADERS = 3; // reading header lines until the blank line
const S_BODY_LENGTH = 4; // reading exactly content-length body bytes
const S_BODY_END = 5; // content-length body read: the next byte must be NUL
const S_BODY_NUL = 6; // no content-length: body ends at the first NUL
const S_DEAD = 7; // a push threw: every later push rethrows that error

const EMPTY = Buffer.alloc(0);
const EMPTY_HEADERS = Object.freeze(Object.create(null)) as Record<string, string>;

// Buffer's own range decoders (what toString() calls after its encoding dispatch); @types/node omits them.
type RangeDecoding = Buffer & {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
};
const DIGITS = /^[0-9]+$/;

interface CommandEntry {
  readonly name: string;
  readonly bytes: Buffer;
}

// One command table per command set for the whole process: a server holds a decoder per connection, and tens of
// thousands of idle connections must not each carry their own copy.
const COMMAND_LISTS = new Map<string, readonly CommandEntry[]>();

function commandList(which: 'client' | 'server' | 'any'): readonly CommandEntry[] {
  let list = COMMAND_LISTS.get(which);
  if (!list) {
    const set = which === 'client' ? CLIENT_COMMANDS : which === 'server' ? SERVER_COMMANDS : ALL_COMMANDS;
    list = Object.freeze([...set].map((name) => Object.freeze({ name, bytes: Buffer.from(name, 'latin1') })));
    COMMAND_LISTS.set(which, list);
  }
  return list;
}

/**
 * Incremental STOMP decoder for one connection.
 *
 * Guarantees:
 * - Frames may be split at any byte across pushes and many frames may arrive in one push; the frames (and
 *   heart-beats) reported are the same for every chunking.
 * - LF and CRLF line endings; heart-beat EOLs between frames; `content-length` bodies may contain NUL and must
 *   be followed by NUL; without `content-length` the body ends at the first NUL.
 * - Header names and values are validated as UTF-8 and never trimmed; the first of repeated headers wins. They are
 *   unescaped in one pass as {@link version} says: 1.2 `\r \n \c \\`; 1.1 `\n \c \\` (so `\r` is an error);
 *   any other escape is an error ('invalid-escape'). In 1.0, and in CONNECT/CONNECTED frames of every version,
 *   nothing is unescaped: a backslash is data.
 * - Never retains more than `maxFrameBytes` bytes (see {@link bufferedBytes}); a breach throws at once.
 * - Lenient where the grammar is stricter than real peers: a raw ':' inside a value is kept as data (the line is
 *   split at the first ':'), and a body on a frame that should have none is passed on. Which headers a command
 *   requires, and whether it may carry a body, is the session's business, not the codec's.
 */
export class StompDecoder {
  private readonly handlers: DecoderHandlers;
  private readonly maxFrameBytes: number;
  private readonly maxHeaders: number;
  private readonly maxHeaderBytes: number;
  private readonly maxCommandBytes: number;
  private readonly commandList: readonly CommandEntry[];

  private state = S_IDLE;
  private error: unknown = null;
  private currentVersion: StompVersion;
  // Whether the last thing consumed was a frame's NUL (an EOL right after it is reported as trailing).
  private afterNul = false;

  // The frame being decoded.
  private command = '';
  // How its header names and values are unescaped ('1.0': not at all), fixed when its command line is read.
  private unescapeAs: StompVersion = '1.2';
  private headers: Record<string, string> = EMPTY_HEADERS;

  /**
   * The `receipt` header of the frame being decoded, if already read: after a StompProtocolError
   * the server echoes it as `receipt-id` in its ERROR frame (STOMP 1.2).
   */
  get pendingReceipt(): string | undefined {
    return this.headers.receipt;
  }
  private headerCount = 0;
  private contentLength = -1;
  /** Bytes of the current frame already consumed (complete lines, and body bytes once the frame ends). */
  private frameBytes = 0;

  // A command or header line spanning chunks, copied into a reusable buffer.
  private lineBuf: Buffer | null = null;
  private lineLen = 0;
  // The last complete line, as a range of either the pushed chunk or lineBuf (EOL excluded).
  private lb: Buffer = EMPTY;
  private ls = 0;
  private le = 0;

  // A body spanning chunks.
  private bodyBuf: Buffer | null = null;
  private bodyLen = 0;

  constructor(handlers: DecoderHandlers, options: DecoderOptions = {}) {
    this.handlers = handlers;
    this.maxFrameBytes = limit(options.maxFrameBytes, DEFAULT_DECODER_LIMITS.maxFrameBytes, 'maxFrameBytes');
    this.maxHeaders = limit(options.maxHeaders, DEFAULT_DECODER_LIMITS.maxHeaders, 'maxHeaders');
    this.maxHeaderBytes = limit(options.maxHeaderBytes, DEFAULT_DECODER_LIMITS.maxHeaderBytes, 'maxHeaderBytes');
    this.maxCommandBytes = limit(options.maxCommandBytes, DEFAULT_DECODER_LIMITS.maxCommandBytes, 'maxCommandBytes');
    this.commandList = commandList(options.commands ?? 'any');
    const version = options.version ?? '1.2';
    checkVersion(version);
    this.currentVersion = version;
  }

  /**
   * The STOMP version whose header encoding applies (default `'1.2'`; RangeError for anything else than
   * `'1.0' | '1.1' | '1.2'`). Each frame is decoded with the version in force when its command line is read, so a
   * version set from inside `onFrame` (as a server does once CONNECT is negotiated) applies to the very next frame,
   * even one already in the same pushed chunk.
   */
  get version(): StompVersion {
    return this.currentVersion;
  }

  set version(version: StompVersion) {
    checkVersion(version);
    this.currentVersion = version;
  }

  /**
   * Bytes of the current incomplete frame that are retained (0 between frames).
   * Never exceeds `maxFrameBytes`.
   */
  get bufferedBytes(): number {
    return this.state === S_IDLE || this.state === S_IDLE_CR || this.state === S_DEAD ? 0 : this.frameBytes + this.lineLen + this.bodyLen;
  }

  /**
   * Feeds bytes; calls the handlers synchronously for each complete frame and heart-beat in them.
   * The decoder does not keep `chunk` beyond this call, except as the backing memory of bodies it hands out.
   * @throws StompProtocolError on a protocol violation or a limit breach. After any throw (including one from a
   *   handler) the decoder is dead: every later push throws the same error.
   */
  push(chunk: Buffer): void {
    if (this.state === S_DEAD) throw this.error;
    try {
      this.parse(chunk);
    } catch (err) {
      this.state = S_DEAD;
      this.error = err;
      this.lineBuf = null;
      this.bodyBuf = null;
      this.lb = EMPTY;
      // Keep only the receipt of the failed frame (for the ERROR's receipt-id); drop the rest.
      const receipt = this.headers.receipt;
      this.headers = receipt === undefined ? EMPTY_HEADERS : { receipt };
      throw err;
    }
  }

  private parse(buf: Buffer): void {
    const end = buf.length;
    let pos = 0;
    while (pos < end) {
      switch (this.state) {
        case S_IDLE: {
          const b = buf[pos]!;
          if (b === LF) {
            pos++;
            this.heartbeat();
          } else if (b === CR) {
            pos++;
            this.state = S_IDLE_CR;
          } else {
            this.afterNul = false;
            this.headers = Object.create(null) as Record<string, string>;
            this.headerCount = 0;
            this.contentLength = -1;
            this.frameBytes = 0;
            this.state = S_COMMAND;
          }
          break;
        }
        case S_IDLE_CR: {
          if (buf[pos] !== LF) throw badFrame('invalid-eol', 'CR not followed by LF between frames');
          pos++;
          this.state = S_IDLE;
          this.heartbeat();
          break;
        }
        case S_COMMAND: {
          const next = this.readLine(buf, pos, this.maxCommandBytes, true);
          if (next < 0) return;
          pos = next;
          this.onCommandLine();
          break;
        }
        case S_HEADERS: {
          const next = this.readLine(buf, pos, this.maxHeaderBytes, false);
          if (next < 0) return;
          pos = next;
          this.onHeaderLine();
          break;
        }
        case S_BODY_LENGTH: {
          const need = this.contentLength - this.bodyLen;
          const avail = end - pos;
          if (this.bodyLen === 0 && avail > need) {
            // Fast path: the whole body and its NUL are in this chunk.
            if (buf[pos + need] !== NUL) throw missingNul();
            const body = need === 0 ? EMPTY : buf.subarray(pos, pos + need);
            pos += need + 1;
            this.emit(body);
            break;
          }
          // The body spans chunks: copy it into one buffer of its final size (bounded by maxFrameBytes).
          if (this.bodyBuf === null) this.bodyBuf = Buffer.allocUnsafe(this.contentLength);
          const n = avail < need ? avail : need;
          buf.copy(this.bodyBuf, this.bodyLen, pos, pos + n);
          this.bodyLen += n;
          pos += n;
          if (this.bodyLen === this.contentLength) this.state = S_BODY_END;
          break;
        }
        case S_BODY_END: {
          if (buf[pos] !== NUL) throw missingNul();
          pos++;
          const body = this.bodyBuf ?? EMPTY;
          this.emit(body);
          break;
        }
        case S_BODY_NUL: {
          // Body bytes still allowed; the NUL needs one more byte of the frame budget.
          const room = this.maxFrameBytes - this.frameBytes - this.bodyLen - 1;
          const nul = buf.indexOf(NUL, pos);
          if (nul !== -1 && nul - pos <= room) {
            let body: Buffer;
            if (this.bodyLen === 0) {
              body = nul === pos ? EMPTY : buf.subarray(pos, nul);
            } else {
              this.appendBody(buf, pos, nul);
              body = this.bodyBuf!.subarray(0, this.bodyLen);
            }
            pos = nul + 1;
            this.emit(body);
            break;
          }
          if (nul !== -1 || end - pos > room) {
            throw frameTooLarge('body-too-large', `frame without content-length exceeds ${this.maxFrameBytes} bytes`);
          }
          this.appendBody(buf, pos, end);
          return;
        }
        default:
          throw this.error;
      }
    }
  }

  /**
   * Reads one line ending in LF from `buf` at `pos`, continuing a partial line kept from earlier chunks.
   * On success sets lb/ls/le to the line without its EOL and returns the position after the LF; otherwise
   * keeps the partial line and returns -1. Throws as soon as the line cannot fit its limit or the frame budget.
   */
  private readLine(buf: Buffer, pos: number, maxLine: number, isCommand: boolean): number {
    const prior = this.lineLen;
    // Bytes this line may still take, EOL included: content, optional CR, LF.
    const lineRoom = maxLine + 2 - prior;
    const frameRoom = this.maxFrameBytes - this.frameBytes - prior;
    const room = lineRoom < frameRoom ? lineRoom : frameRoom;
    const lf = buf.indexOf(LF, pos);
    if (lf === -1 || lf - pos >= room) {
      if (lf !== -1 || buf.length - pos >= room) throw this.lineTooLong(isCommand, lineRoom <= frameRoom);
      this.appendLine(buf, pos, buf.length);
      return -1;
    }
    this.frameBytes += prior + (lf + 1 - pos);
    if (prior === 0) {
      this.lb = buf;
      this.ls = pos;
      this.le = lf > pos && buf[lf - 1] === CR ? lf - 1 : lf;
    } else {
      this.appendLine(buf, pos, lf);
      const lb = this.lineBuf!;
      const len = this.lineLen;
      this.lb = lb;
      this.ls = 0;
      this.le = len > 0 && lb[len - 1] === CR ? len - 1 : len;
      this.lineLen = 0;
    }
    return lf + 1;
  }

  private lineTooLong(isCommand: boolean, lineLimit: boolean): Error {
    if (!lineLimit) {
      return frameTooLarge('body-too-large', `frame exceeds ${this.maxFrameBytes} bytes`);
    }
    return isCommand
      ? badFrame('command-too-long', `command line longer than ${this.maxCommandBytes} bytes`)
      : frameTooLarge('header-too-long', `header line longer than ${this.maxHeaderBytes} bytes`);
  }

  private appendLine(buf: Buffer, start: number, end: number): void {
    // Sized once for the longest line any state accepts; reused for every line spanning chunks.
    this.lineBuf ??= Buffer.allocUnsafeSlow(Math.max(this.maxHeaderBytes, this.maxCommandBytes) + 2);
    this.lineLen += buf.copy(this.lineBuf, this.lineLen, start, end);
  }

  private appendBody(buf: Buffer, start: number, end: number): void {
    const n = end - start;
    const need = this.bodyLen + n;
    let acc = this.bodyBuf;
    if (acc === null || acc.length < need) {
      // Grow geometrically (copies stay linear overall) but never past the frame budget, checked by the caller.
      const cap = Math.min(Math.max(need, 2 * (acc?.length ?? 0), 1024), this.maxFrameBytes);
      const grown = Buffer.allocUnsafe(cap);
      if (acc !== null) acc.copy(grown, 0, 0, this.bodyLen);
      this.bodyBuf = acc = grown;
    }
    buf.copy(acc, this.bodyLen, start, end);
    this.bodyLen = need;
  }

  private onCommandLine(): void {
    const lb = this.lb;
    const s = this.ls;
    const len = this.le - s;
    // Match the bytes against the accepted commands: no string is built for the command.
    for (const c of this.commandList) {
      const bytes = c.bytes;
      if (bytes.length !== len || bytes[0] !== lb[s]) continue;
      let i = 1;
      while (i < len && bytes[i] === lb[s + i]) i++;
      if (i === len) {
        this.command = c.name;
        this.unescapeAs = usesEscaping(c.name) ? this.currentVersion : '1.0';
        this.state = S_HEADERS;
        return;
      }
    }
    if (len > this.maxCommandBytes) {
      throw badFrame('command-too-long', `command line longer than ${this.maxCommandBytes} bytes`);
    }
    throw badFrame('unknown-command', `unknown command ${JSON.stringify(lb.toString('latin1', s, this.le))}`);
  }

  private onHeaderLine(): void {
    const lb = this.lb;
    const s = this.ls;
    const e = this.le;
    if (s === e) {
      this.onHeadersEnd();
      return;
    }
    if (e - s > this.maxHeaderBytes) {
      throw frameTooLarge('header-too-long', `header line longer than ${this.maxHeaderBytes} bytes`);
    }
    if (++this.headerCount > this.maxHeaders) {
      throw frameTooLarge('too-many-headers', `more than ${this.maxHeaders} headers`);
    }
    // One pass over the line: the first ':' splits name and value; note escapes, non-ASCII and stray CRs.
    // A byte-class table keeps the loop to one load and one OR per byte.
    let i = s;
    let nameFlags = 0;
    for (; i < e; i++) {
      const k = BYTE_CLASS[lb[i]!]!;
      if (k !== 0) {
        if (k === F_COLON) break;
        nameFlags |= k;
      }
    }
    if (i === e) throw badFrame('malformed-header', 'header line without a colon');
    if (i === s) throw badFrame('malformed-header', 'header line with an empty name');
    const colon = i;
    let valueFlags = 0;
    for (i++; i < e; i++) valueFlags |= BYTE_CLASS[lb[i]!]!;
    if (((nameFlags | valueFlags) & F_CR) !== 0) throw strayCr();
    valueFlags &= ~F_COLON; // a ':' in a value is data (we split at the first one)
    const name = nameFlags === 0 ? (knownName(lb, s, colon) ?? (lb as RangeDecoding).latin1Slice(s, colon)) : this.text(lb, s, colon, nameFlags);
    // Decoded even when repeated: an invalid escape or UTF-8 sequence is fatal wherever it is.
    const value = this.text(lb, colon + 1, e, valueFlags);
    if (this.headers[name] !== undefined) return; // repeated header: the first one wins
    this.headers[name] = value;
    if (name === 'content-length') this.setContentLength(value);
  }

  private text(lb: Buffer, start: number, end: number, flags: number): string {
    let str: string;
    if ((flags & F_NON_ASCII) === 0) {
      str = (lb as RangeDecoding).latin1Slice(start, end);
    } else {
      str = (lb as RangeDecoding).utf8Slice(start, end);
      // Invalid sequences decode to U+FFFD; only then pay for a strict check (a real U+FFFD is valid).
      if (str.includes('\uFFFD') && !isUtf8(lb.subarray(start, end))) {
        throw badFrame('invalid-utf8', 'header is not valid UTF-8');
      }
    }
    return (flags & F_ESCAPE) !== 0 && this.unescapeAs !== '1.0' ? unescapeHeader(str, this.unescapeAs) : str;
  }

  private setContentLength(value: string): void {
    if (!DIGITS.test(value)) {
      throw badFrame('bad-content-length', 'content-length is not a non-negative decimal integer');
    }
    const n = Number(value);
    // Refuse now, before any body byte is buffered; the rest of the headers only adds bytes.
    if (n > this.maxFrameBytes - this.frameBytes - 2) {
      throw frameTooLarge('body-too-large', `content-length ${value} exceeds the ${this.maxFrameBytes}-byte limit`);
    }
    this.contentLength = n;
  }

  private onHeadersEnd(): void {
    if (this.contentLength >= 0) {
      if (this.frameBytes + this.contentLength + 1 > this.maxFrameBytes) {
        throw frameTooLarge('body-too-large', `frame exceeds ${this.maxFrameBytes} bytes`);
      }
      this.state = S_BODY_LENGTH;
    } else {
      this.state = S_BODY_NUL;
    }
  }

  private emit(body: Buffer): void {
    const frame: Frame = { command: this.command, headers: this.headers, body };
    this.frameBytes = 0;
    this.bodyBuf = null;
    this.bodyLen = 0;
    this.headers = EMPTY_HEADERS;
    // The last line may be a range of the pushed chunk: an idle connection would otherwise keep its last frame's
    // chunk (a CONNECT with its token: ~450 bytes with the Buffer objects) for as long as it lives.
    this.lb = EMPTY;
    this.state = S_IDLE;
    this.afterNul = true;
    this.handlers.onFrame(frame);
  }

  private heartbeat(): void {
    const trailing = this.afterNul;
    this.afterNul = false;
    this.handlers.onHeartbeat?.(trailing);
  }
}

// Header names of STOMP 1.2 and of our gateway, matched as bytes so the usual names cost no new string
// (V8 would otherwise build and internalise a fresh string for every header key of every frame).
const KNOWN_NAMES = [
  'accept-version',
  'ack',
  'content-length',
  'content-type',
  'destination',
  'heart-beat',
  'host',
  'id',
  'login',
  'message',
  'message-id',
  'passcode',
  'receipt',
  'receipt-id',
  'server',
  'session',
  'subscription',
  'transaction',
  'version',
  'seq',
  'room-id',
  'sender-id',
  'message-type',
  'created-at',
  'since-seq',
  'idempotency-key',
];
const KNOWN_BY_LENGTH: { name: string; bytes: Buffer }[][] = [];
for (const name of KNOWN_NAMES) {
  (KNOWN_BY_LENGTH[name.length] ??= []).push({ name, bytes: Buffer.from(name, 'latin1') });
}

function knownName(lb: Buffer, s: number, e: number): string | undefined {
  const list = KNOWN_BY_LENGTH[e - s];
  if (list === undefined) return undefined;
  for (const k of list) {
    const bytes = k.bytes;
    let i = 0;
    while (i < bytes.length && bytes[i] === lb[s + i]) i++;
    if (i === bytes.length) return k.name;
  }
  return undefined;
}

function missingNul(): Error {
  return badFrame('missing-nul', 'the byte after a content-length body is not NUL');
}

function strayCr(): Error {
  return badFrame('invalid-eol', 'CR not followed by LF in a header line');
}

function limit(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}
