// A server byte stream split into frames without the codec: a second opinion for byte-exact interoperability
// checks (what follows each NUL), so a codec bug cannot hide itself.

export interface ScannedFrame {
  command: string;
  /** Offset of the frame's NUL in the stream. */
  nulAt: number;
  /** The byte after the NUL (-1: end of stream). */
  after: number;
}

/**
 * Splits a server byte stream into frames independently of the codec (EOLs between frames skipped; a body ends at
 * `content-length` when present, else at the first NUL) and reports, for each frame, the byte after its NUL.
 * Throws on anything it cannot frame.
 */
export function scanFrames(buf: Buffer): ScannedFrame[] {
  const out: ScannedFrame[] = [];
  let p = 0;
  while (p < buf.length) {
    if (buf[p] === 0x0a) {
      p++;
      continue;
    }
    if (buf[p] === 0x0d && buf[p + 1] === 0x0a) {
      p += 2;
      continue;
    }
    const headEnd = buf.indexOf('\n\n', p);
    if (headEnd < 0) throw new Error(`unterminated frame head at byte ${p}: ${JSON.stringify(buf.subarray(p, p + 80).toString())}`);
    const head = buf.subarray(p, headEnd).toString('utf8').split('\n');
    const command = head[0]!;
    const cl = head.slice(1).find((l) => l.startsWith('content-length:'));
    const bodyStart = headEnd + 2;
    const nulAt = cl !== undefined ? bodyStart + Number(cl.slice('content-length:'.length)) : buf.indexOf(0, bodyStart);
    if (nulAt < 0 || nulAt >= buf.length) throw new Error(`frame ${command} at byte ${p} has no NUL`);
    if (buf[nulAt] !== 0) throw new Error(`frame ${command} at byte ${p}: byte after the body is ${buf[nulAt]}, not NUL`);
    out.push({ command, nulAt, after: nulAt + 1 < buf.length ? buf[nulAt + 1]! : -1 });
    p = nulAt + 1;
  }
  return out;
}
