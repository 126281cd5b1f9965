// STOMP encoder: frames to bytes, headers written as the peer's protocol version requires, every frame ended by
// NUL + LF.

import { escapeHeader } from './escape.js';
import { checkVersion, usesEscaping } from './frame.js';
import type { StompVersion } from './frame.js';

// Every frame ends with NUL then one EOL. STOMP 1.2 allows EOLs after the NUL (`frame = ... NULL *( EOL )`) and
// peers read them as heart-beats, while some clients (PHP's stomp extension) lose the first byte of a frame that
// directly follows a NUL.
const FRAME_END = '\0\n';
const FRAME_END_LEN = 2;
const HEAD_END_NO_BODY = '\n' + FRAME_END;

/** A heart-beat: one EOL (STOMP 1.2 "Heart-beating"). */
export const HEARTBEAT: Buffer = Buffer.from('\n');

/** Headers as an object (insertion order) or as ordered pairs (which may repeat a name). */
export type HeadersInput = Record<string, string> | ReadonlyArray<readonly [string, string]>;

// Without escaping (STOMP 1.0, and CONNECT/CONNECTED in every version) these characters would corrupt the frame
// rather than travel in it.
const UNSAFE_RAW_NAME = /[\r\n:]/;
const UNSAFE_RAW_VALUE = /[\r\n]/;

/**
 * How a frame's header names and values are written: the version's rules, except that CONNECT/CONNECTED are never
 * escaped and so follow the 1.0 rules whatever the version.
 */
function styleOf(command: string, version: StompVersion): StompVersion {
  checkVersion(version);
  return usesEscaping(command) ? version : '1.0';
}

function crIn11(name: string): RangeError {
  return new RangeError(`STOMP 1.1 header ${JSON.stringify(name)} cannot carry CR (1.1 has no escape for it)`);
}

/** One `name:value` line with its LF, written in `style`. RangeError when the style cannot carry it. */
function headerLine(command: string, name: string, value: string, style: StompVersion): string {
  if (name.length === 0) throw new RangeError('empty STOMP header name');
  if (style === '1.2') return escapeHeader(name) + ':' + escapeHeader(value) + '\n';
  if (style === '1.1') {
    if (name.includes('\r') || value.includes('\r')) throw crIn11(name);
    return escapeHeader(name, '1.1') + ':' + escapeHeader(value, '1.1') + '\n';
  }
  if (UNSAFE_RAW_NAME.test(name) || UNSAFE_RAW_VALUE.test(value)) {
    const what = usesEscaping(command) ? `STOMP 1.0 ${command}` : command;
    throw new RangeError(`${what} header ${JSON.stringify(name)} cannot carry CR, LF (or ':' in its name)`);
  }
  return name + ':' + value + '\n';
}

function headerLines(command: string, headers: HeadersInput, style: StompVersion): string {
  let out = '';
  if (Array.isArray(headers)) {
    for (const [name, value] of headers as ReadonlyArray<readonly [string, string]>) {
      // content-length is ours to set from the actual body (a stale one would desynchronise the peer).
      if (name !== 'content-length') out += headerLine(command, name, value, style);
    }
  } else {
    const record = headers as Record<string, string>;
    for (const name of Object.keys(record)) {
      if (name !== 'content-length') out += headerLine(command, name, record[name]!, style);
    }
  }
  return out;
}

function toBody(body: Buffer | string | undefined): Buffer | undefined {
  if (body === undefined) return undefined;
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return buf.length === 0 ? undefined : buf;
}

/**
 * Encodes one frame into one Buffer (one WebSocket message, one socket write).
 *
 * - Header order is preserved; a given `content-length` is dropped and, when the body is non-empty, the
 *   exact byte count is added as the last header (bodies may then contain NUL).
 * - Header names and values are written for `version` (default `'1.2'`): 1.2 escapes `\\ \r \n :`; 1.1 escapes
 *   `\\ \n :` and cannot carry a CR; 1.0 escapes nothing and cannot carry CR or LF, nor ':' in a name.
 *   CONNECT/CONNECTED frames are never escaped, in any version, so they follow the 1.0 rules. What the version
 *   cannot carry throws RangeError, as does an empty header name or an unknown version.
 * - The frame ends with NUL and one LF (`\0\n`), which peers read as a heart-beat.
 * - The command is written as given; callers pass one of CLIENT_COMMANDS/SERVER_COMMANDS.
 */
export function encodeFrame(command: string, headers: HeadersInput, body?: Buffer | string, version: StompVersion = '1.2'): Buffer {
  const lines = headerLines(command, headers, styleOf(command, version));
  const payload = toBody(body);
  let head = command + '\n' + lines;
  if (payload === undefined) {
    head += HEAD_END_NO_BODY;
    return Buffer.from(head, 'utf8');
  }
  head += 'content-length:' + payload.length + '\n\n';
  const headLen = Buffer.byteLength(head, 'utf8');
  const out = Buffer.allocUnsafe(headLen + payload.length + FRAME_END_LEN);
  out.write(head, 0, 'utf8');
  payload.copy(out, headLen);
  out.write(FRAME_END, headLen + payload.length, 'latin1');
  return out;
}

/** Per-subscriber options of {@link PreparedMessage.frameFor}. */
export interface FrameForOptions {
  /**
   * Value of an `ack` header, written right after `subscription` (STOMP 1.2 requires one on every MESSAGE of a
   * client or client-individual subscription). Ack ids differ per message, so frames with one are never cached.
   */
  ack?: string;
  /** The subscriber's STOMP version, which decides how headers are written (see encodeFrame). Default `'1.2'`. */
  version?: StompVersion;
}

/**
 * A MESSAGE encoded once for fan-out. {@link frameFor} returns the complete frame bytes with `subscription:<id>` as
 * the first header, then `ack:<value>` when asked, then the prepared headers and body exactly as prepared:
 * byte for byte what encodeFrame('MESSAGE', [subscription, ack?, ...headers], body, version) returns.
 *
 * Cost guarantees: the prepared headers and the body are encoded once per escaping style, never per subscriber:
 * the escaped form (shared by 1.1 and 1.2, which write the same bytes whenever 1.1 can carry the headers) at
 * construction, the raw 1.0 form lazily when a 1.0 subscriber first asks. A frame without `ack` is cached per
 * (style, subscription id), since clients often reuse ids such as `sub-0`: N such subscribers cost one allocation,
 * and the same Buffer instance is returned each time, so callers must not mutate it. The cache lives as long as
 * this object: drop the PreparedMessage once its fan-out is done.
 */
export class PreparedMessage {
  /** Length in bytes of the 1.1/1.2 frame without its subscription header (and without ack). */
  readonly byteLength: number;
  /** The prepared headers (a copy), kept to encode the 1.0 form on demand. */
  private readonly headers: ReadonlyArray<readonly [string, string]>;
  /** Name of the first prepared header with a CR in its name or value, which STOMP 1.1 cannot carry. */
  private readonly crHeader: string | undefined;
  /** 1.1/1.2 form of all after the subscription/ack lines: headers, content-length, blank line, body, NUL, LF. */
  private readonly escapedTail: Buffer;
  /** Offset of the body in escapedTail. */
  private readonly bodyStart: number;
  private readonly escapedCache = new Map<string, Buffer>();
  /** 1.0 form of the tail, and its cache: made on the first 1.0 request. */
  private rawTail: Buffer | undefined;
  private rawCache: Map<string, Buffer> | undefined;

  /**
   * @param headers the MESSAGE headers in order, without `subscription` (TypeError if present); a given
   *   `content-length` is replaced by the body's byte count, added whenever the body is non-empty.
   *   Encoded at once in 1.2 rules (RangeError on an empty name); the 1.0 form is checked only when first asked.
   * @param body copied: the caller may reuse its Buffer.
   */
  constructor(headers: HeadersInput, body: Buffer) {
    const pairs: [string, string][] = Array.isArray(headers)
      ? (headers as ReadonlyArray<readonly [string, string]>).map(([n, v]) => [n, v])
      : Object.entries(headers as Record<string, string>);
    let crHeader: string | undefined;
    for (const [name, value] of pairs) {
      if (name === 'subscription') throw new TypeError('PreparedMessage headers must not include subscription');
      if (crHeader === undefined && name !== 'content-length' && (name.includes('\r') || value.includes('\r'))) {
        crHeader = name;
      }
    }
    this.headers = pairs;
    this.crHeader = crHeader;
    const tail = makeTail(headerLines('MESSAGE', pairs, '1.2'), body);
    this.escapedTail = tail;
    this.bodyStart = tail.length - FRAME_END_LEN - body.length;
    this.byteLength = 'MESSAGE\n'.length + tail.length;
  }

  /**
   * The complete frame for one subscriber, its headers written for `opts.version` (default `'1.2'`).
   * Cached per (style, subscription id) when there is no `ack`.
   * @throws RangeError when the version cannot carry the subscription id, the ack or a prepared header (a CR in
   *   1.1; a CR, LF, or ':' in a name in 1.0), or the version is unknown.
   */
  frameFor(subscriptionId: string, opts?: FrameForOptions): Buffer {
    const version = opts?.version ?? '1.2';
    const ack = opts?.ack;
    let tail: Buffer;
    let cache: Map<string, Buffer>;
    if (version === '1.0') {
      tail = this.rawTail ??= this.makeRawTail();
      cache = this.rawCache ??= new Map();
    } else {
      checkVersion(version);
      // 1.1 shares the escaped bytes (and cache) of 1.2, so refuse what 1.1 cannot carry before any cache hit.
      if (version === '1.1') {
        if (this.crHeader !== undefined) throw crIn11(this.crHeader);
        if (subscriptionId.includes('\r')) throw crIn11('subscription');
      }
      tail = this.escapedTail;
      cache = this.escapedCache;
    }
    if (ack === undefined) {
      const cached = cache.get(subscriptionId);
      if (cached !== undefined) return cached;
    }
    let lines = 'MESSAGE\n' + headerLine('MESSAGE', 'subscription', subscriptionId, version);
    if (ack !== undefined) lines += headerLine('MESSAGE', 'ack', ack, version);
    const linesLen = Buffer.byteLength(lines, 'utf8');
    const frame = Buffer.allocUnsafe(linesLen + tail.length);
    frame.write(lines, 0, 'utf8');
    tail.copy(frame, linesLen);
    if (ack === undefined) cache.set(subscriptionId, frame);
    return frame;
  }

  private makeRawTail(): Buffer {
    const body = this.escapedTail.subarray(this.bodyStart, this.escapedTail.length - FRAME_END_LEN);
    return makeTail(headerLines('MESSAGE', this.headers, '1.0'), body);
  }
}

/** Header lines, content-length when the body is non-empty, blank line, body, NUL, LF: one new Buffer. */
function makeTail(lines: string, body: Buffer): Buffer {
  const bodyLen = body.length;
  let text = lines;
  if (bodyLen > 0) text += 'content-length:' + bodyLen + '\n';
  text += '\n';
  const textLen = Buffer.byteLength(text, 'utf8');
  // Not from the shared pool: the tail lives as long as the PreparedMessage and is copied into every frame.
  const tail = Buffer.allocUnsafeSlow(textLen + bodyLen + FRAME_END_LEN);
  tail.write(text, 0, 'utf8');
  body.copy(tail, textLen);
  tail.write(FRAME_END, textLen + bodyLen, 'latin1');
  return tail;
}
