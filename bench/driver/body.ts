// The load driver's message body: a marker with the step, the driver's room index, the room's sequence number
// and the sender's intended send time, padded to the requested size. Every server under test carries it
// somewhere in what it delivers (ours: inside the JSON message's "content"; RabbitMQ: the body as is;
// Socket.IO: the event's argument), so the driver finds it by its marker and needs no server-specific parsing,
// and counts loss, duplicates and order even for servers that have no sequence numbers of their own.
//
// Format (ASCII, nothing that JSON or STOMP would escape): `~b~<step>~<room>~<seq>~<intended ms>~xxxx…`

const MARKER = '~b~';
const MARKER_BUF = Buffer.from(MARKER, 'latin1');
const TILDE = 126;
const DOT = 46;
const PAD = 'x'.repeat(4096);

export interface BodyFields {
  step: number;
  room: number;
  seq: number;
  /** Intended send time, epoch ms with a fractional part. */
  intendedMs: number;
}

/** The body text, at least `size` bytes long (longer only if the fields alone exceed it). */
export function encodeBody(f: BodyFields, size: number): string {
  const head = `${MARKER}${f.step}~${f.room}~${f.seq}~${f.intendedMs.toFixed(3)}~`;
  return head.length >= size ? head : head + PAD.slice(0, size - head.length);
}

/** Longest possible marker + fields: 4 numbers of at most 20 characters and their separators. */
const MAX_HEAD = MARKER.length + 4 * 21;

/**
 * Reads the fields from a delivered payload (Buffer or string), into `out`; false when there is no well-formed
 * marker. Digits are read byte by byte from the Buffer (a string payload is first cut to the marker's bytes).
 */
export function parseBody(payload: Buffer | string, out: BodyFields): boolean {
  let buf: Buffer;
  let i: number;
  if (typeof payload === 'string') {
    const at = payload.indexOf(MARKER);
    if (at < 0) return false;
    buf = Buffer.from(payload.slice(at, at + MAX_HEAD), 'latin1');
    i = 0;
  } else {
    buf = payload;
    i = payload.indexOf(MARKER_BUF);
    if (i < 0) return false;
  }
  const len = buf.length;
  i += MARKER.length;
  for (let n = 0; n < 4; n++) {
    let v = 0;
    let scale = 0;
    let digits = 0;
    for (; i < len; i++) {
      const c = buf[i]!;
      if (c === TILDE) break;
      if (c === DOT && n === 3 && scale === 0) {
        scale = 1;
        continue;
      }
      if (c < 48 || c > 57) return false;
      if (scale) {
        scale /= 10;
        v += (c - 48) * scale;
      } else v = v * 10 + (c - 48);
      digits++;
    }
    if (i >= len || digits === 0) return false;
    i++;
    if (n === 0) out.step = v;
    else if (n === 1) out.room = v;
    else if (n === 2) out.seq = v;
    else out.intendedMs = v;
  }
  return true;
}
