// STOMP 1.2 encoder: frames to bytes, with the body kept apart so sockets can write it without a copy.

import { escapeHeader } from './escape.js';
import { usesEscaping } from './frame.js';

const NUL_BUF = Buffer.from([0]);
const HEAD_END_NO_BODY = '\n\0';

/** A heart-beat: one EOL (STOMP 1.2 "Heart-beating"). */
export const HEARTBEAT: Buffer = Buffer.from('\n');

/** Headers as an object (insertion order) or as ordered pairs (which may repeat a name). */
export type HeadersInput = Record<string, string> | ReadonlyArray<readonly [string, string]>;

// CONNECT/CONNECTED cannot escape, so these characters would corrupt the frame rather than travel in it.
const UNSAFE_RAW_NAME = /[\r\n:]/;
const UNSAFE_RAW_VALUE = /[\r\n]/;

function headerLines(command: string, headers: HeadersInput): string {
  const escape = usesEscaping(command);
  let out = '';
  const add = (name: string, value: string): void => {
    // content-length is ours to set from the actual body (a stale one would desynchronise the peer).
    if (name === 'content-length') return;
    if (name.length === 0) throw new RangeError('empty STOMP header name');
    if (escape) {
      out += escapeHeader(name) + ':' + escapeHeader(value) + '\n';
    } else {
      if (UNSAFE_RAW_NAME.test(name) || UNSAFE_RAW_VALUE.test(value)) {
        throw new RangeError(`${command} header ${JSON.stringify(name)} cannot carry CR, LF (or ':' in its name)`);
      }
      out += name + ':' + value + '\n';
    }
  };
  if (Array.isArray(headers)) {
    for (const [name, value] of headers as ReadonlyArray<readonly [string, string]>) add(name, value);
  } else {
    const record = headers as Record<string, string>;
    for (const name of Object.keys(record)) add(name, record[name]!);
  }
  return out;
}

function toBody(body: Buffer | string | undefined): Buffer | undefined {
  if (body === undefined) return undefined;
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return buf.length === 0 ? undefined : buf;
}

/**
 * Encodes a frame as `[head, body, NUL]`, or `[head]` (ending in NUL) when there is no body, so a socket
 * writer can cork and write the parts without copying the body.
 *
 * - Header order is preserved; a given `content-length` is dropped and, when the body is non-empty, the
 *   exact byte count is added as the last header (bodies may then contain NUL).
 * - Names and values are escaped (`\\ \r \n \c`) except in CONNECT/CONNECTED frames, where a CR/LF (or a ':'
 *   in a name) cannot be represented and throws RangeError. An empty header name throws RangeError.
 * - The command is written as given; callers pass one of CLIENT_COMMANDS/SERVER_COMMANDS.
 * - The returned body part is `body` itself when a Buffer was given (not copied; do not mutate it until written).
 */
export function encodeFrameParts(command: string, headers: HeadersInput, body?: Buffer | string): Buffer[] {
  const payload = toBody(body);
  let head = command + '\n' + headerLines(command, headers);
  if (payload === undefined) {
    head += HEAD_END_NO_BODY;
    return [Buffer.from(head, 'utf8')];
  }
  head += 'content-length:' + payload.length + '\n\n';
  return [Buffer.from(head, 'utf8'), payload, NUL_BUF];
}

/** {@link encodeFrameParts}, concatenated into one Buffer (one WebSocket message). */
export function encodeFrame(command: string, headers: HeadersInput, body?: Buffer | string): Buffer {
  const payload = toBody(body);
  let head = command + '\n' + headerLines(command, headers);
  if (payload === undefined) {
    head += HEAD_END_NO_BODY;
    return Buffer.from(head, 'utf8');
  }
  head += 'content-length:' + payload.length + '\n\n';
  const headLen = Buffer.byteLength(head, 'utf8');
  const out = Buffer.allocUnsafe(headLen + payload.length + 1);
  out.write(head, 0, 'utf8');
  payload.copy(out, headLen);
  out[headLen + payload.length] = 0;
  return out;
}

const MESSAGE_PREFIX = Buffer.from('MESSAGE\nsubscription:', 'latin1');

/**
 * A MESSAGE encoded once for fan-out. {@link frameFor} returns the complete frame bytes with
 * `subscription:<id>` as the first header and the other headers and body exactly as encoded here.
 *
 * Results are cached per subscription id (clients often reuse ids such as `sub-0`), so N subscribers that share
 * an id cost one allocation; the same Buffer instance is returned each time, so callers must not mutate it.
 * The cache lives as long as this object: drop the PreparedMessage once its fan-out is done.
 */
export class PreparedMessage {
  /** Length in bytes of the frame without its subscription header. */
  readonly byteLength: number;
  /** Everything after the subscription id: its EOL, the other headers, content-length, blank line, body, NUL. */
  private readonly tail: Buffer;
  private readonly cache = new Map<string, Buffer>();

  /**
   * @param headers the MESSAGE headers in order, without `subscription` (TypeError if present); a given
   *   `content-length` is replaced by the body's byte count, added whenever the body is non-empty.
   */
  constructor(headers: Record<string, string>, body: Buffer) {
    if (Object.prototype.hasOwnProperty.call(headers, 'subscription')) {
      throw new TypeError('PreparedMessage headers must not include subscription');
    }
    let text = '\n' + headerLines('MESSAGE', headers);
    if (body.length > 0) text += 'content-length:' + body.length + '\n';
    text += '\n';
    const textLen = Buffer.byteLength(text, 'utf8');
    const tail = Buffer.allocUnsafeSlow(textLen + body.length + 1);
    tail.write(text, 0, 'utf8');
    body.copy(tail, textLen);
    tail[tail.length - 1] = 0;
    this.tail = tail;
    // "MESSAGE\n" (8 bytes) + the tail without the EOL that ends the subscription line.
    this.byteLength = 8 + tail.length - 1;
  }

  /** The complete frame for one subscription id (escaped as any MESSAGE header). Cached per id. */
  frameFor(subscriptionId: string): Buffer {
    let frame = this.cache.get(subscriptionId);
    if (frame === undefined) {
      const id = escapeHeader(subscriptionId);
      const idLen = Buffer.byteLength(id, 'utf8');
      const prefixLen = MESSAGE_PREFIX.length;
      frame = Buffer.allocUnsafe(prefixLen + idLen + this.tail.length);
      MESSAGE_PREFIX.copy(frame, 0);
      frame.write(id, prefixLen, 'utf8');
      this.tail.copy(frame, prefixLen + idLen);
      this.cache.set(subscriptionId, frame);
    }
    return frame;
  }
}
