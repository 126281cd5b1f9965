// The fuzzer's frames, from a deterministic PRNG: valid ones from the client grammar (cheap for the server: no
// record reaches Kafka), frames with a random command line, raw random bytes, and twelve kinds of mutation.
const CLIENT_COMMANDS = ['SEND', 'SUBSCRIBE', 'UNSUBSCRIBE', 'BEGIN', 'COMMIT', 'ABORT', 'ACK', 'NACK', 'DISCONNECT', 'CONNECT', 'STOMP'];
const ESCAPES = ['\\n', '\\c', '\\\\', '\\r'];
const BAD_ESCAPES = ['\\t', '\\x', '\\', '\\0', '\\u0041'];
// Whole code points (a lone surrogate is not text: the server rightly refuses it as invalid-message).
const TEXT = Array.from('abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;!?-_/+=()[]{}"\'é漢字😀');

/** Frames from a deterministic PRNG: valid ones from the client grammar, and mutations of them. */
export class FrameGen {
  private tx: string | null = null;
  private txFrames = 0;
  private subs: string[] = [];
  private n = 0;

  constructor(
    private readonly rand: () => number,
    private readonly token: string,
    private readonly room: string,
  ) {}

  reset(): void {
    this.tx = null;
    this.txFrames = 0;
    this.subs = [];
  }

  private int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  private text(max: number): string {
    const len = this.int(max + 1);
    let s = '';
    for (let i = 0; i < len; i++) s += TEXT[this.int(TEXT.length)];
    return s;
  }

  /** A header value with valid escapes sprinkled in (what the encoder would write for \n, :, \ and \r). */
  private value(max: number): string {
    let s = this.text(max).replace(/[:\\\n\r]/g, '');
    if (this.rand() < 0.3) s += this.pick(ESCAPES) + this.text(8).replace(/[:\\\n\r]/g, '');
    return s;
  }

  private extraHeaders(): string {
    let h = '';
    const n = this.rand() < 0.7 ? 0 : this.int(6);
    for (let i = 0; i < n; i++) h += `x-${this.text(6).replace(/[^a-z]/g, '') || 'h'}:${this.value(40)}\n`;
    return h;
  }

  private frame(command: string, headers: string, body = '', contentLength = this.rand() < 0.3): Buffer {
    const b = Buffer.from(body, 'utf8');
    const head = Buffer.from(`${command}\n${headers}${this.extraHeaders()}${contentLength ? `content-length:${b.length}\n` : ''}\n`, 'utf8');
    return Buffer.concat([head, b, Buffer.from(this.rand() < 0.2 ? '\0\n' : '\0')]);
  }

  connect(): Buffer {
    const auth = this.rand() < 0.5 ? `Authorization:Bearer ${this.token}\n` : `login:fuzz\npasscode:${this.token}\n`;
    const version = this.pick(['1.2', '1.1,1.2', '1.0,1.1,1.2', '1.2']);
    return Buffer.from(`${this.rand() < 0.8 ? 'CONNECT' : 'STOMP'}\naccept-version:${version}\nhost:/\n${auth}heart-beat:0,0\n\n\0`);
  }

  private receipt(): string {
    return this.rand() < 0.05 ? `receipt:r${this.n++}\n` : '';
  }

  /** A frame the session accepts (or at least understands), cheap for the server: no record reaches Kafka. */
  valid(): Buffer {
    const r = this.rand();
    if (r < 0.03) return Buffer.from('\n'); // heart-beat
    if (r < 0.3) {
      const cmd = this.rand() < 0.7 ? 'ACK' : 'NACK';
      return this.frame(cmd, `id:${this.value(36) || 'x'}\n${this.receipt()}`);
    }
    if (r < 0.75) {
      if (this.tx === null) {
        this.tx = `t${this.n++}`;
        this.txFrames = 0;
        return this.frame('BEGIN', `transaction:${this.tx}\n${this.receipt()}`);
      }
      if (this.txFrames >= 20 || this.rand() < 0.1) {
        const tx = this.tx;
        const empty = this.txFrames === 0;
        this.tx = null;
        return this.frame(empty && this.rand() < 0.5 ? 'COMMIT' : 'ABORT', `transaction:${tx}\n${this.receipt()}`);
      }
      this.txFrames++;
      const json = this.rand() < 0.3;
      const body = json ? JSON.stringify({ content: this.text(200) || 'x', type: this.pick(['TEXT', 'IMAGE']) }) : this.text(300) || 'x';
      const ct = json ? 'content-type:application/json\n' : this.rand() < 0.5 ? 'content-type:text/plain;charset=utf-8\n' : '';
      const key = this.rand() < 0.2 ? `idempotency-key:${this.value(30) || 'k'}\n` : '';
      return this.frame('SEND', `destination:/topic/rooms.${this.room}\ntransaction:${this.tx}\n${ct}${key}${this.receipt()}`, body);
    }
    if (r < 0.8) return this.frame('SEND', `destination:/topic/rooms.${this.room}.events\n`, 'typing');
    if (r < 0.86) {
      if (this.subs.length > 0 && this.rand() < 0.5) {
        const id = this.subs.splice(this.int(this.subs.length), 1)[0]!;
        return this.frame('UNSUBSCRIBE', `id:${id}\n${this.receipt()}`);
      }
      if (this.subs.length >= 40) return this.frame('ACK', 'id:none\n');
      const id = `s${this.n++}`;
      this.subs.push(id);
      const dest = this.pick([`/topic/rooms.${this.room}`, `/topic/rooms.${this.room}.events`, '/user/queue/notifications']);
      const ack = this.pick(['', 'ack:auto\n', 'ack:client\n', 'ack:client-individual\n']);
      return this.frame('SUBSCRIBE', `id:${id}\ndestination:${dest}\n${ack}${this.receipt()}`);
    }
    // The rest: ACKs with odd but valid headers (a repeated header, whose first occurrence wins; escapes).
    return this.frame('ACK', `id:${this.value(20) || 'y'}\nid:second\nx-esc:${this.pick(ESCAPES)}${this.pick(ESCAPES)}\n`);
  }

  /** A frame with a random command line, random headers and a random body. */
  randomCommandFrame(): Buffer {
    const cmd =
      this.rand() < 0.5
        ? this.pick(CLIENT_COMMANDS)
        : this.text(12)
            .toUpperCase()
            .replace(/[^A-Z]/g, '') || 'X';
    let headers = '';
    for (let i = 0, n = this.int(8); i < n; i++) headers += `${this.text(10)}:${this.text(30)}\n`;
    return Buffer.concat([Buffer.from(`${cmd}\n${headers}\n${this.text(100)}`, 'utf8'), Buffer.from([0])]);
  }

  rawRandom(): Buffer {
    const b = Buffer.allocUnsafe(1 + this.int(2048));
    for (let i = 0; i < b.length; i++) b[i] = this.int(256);
    return b;
  }

  /** One mutation of `frame`. */
  mutate(frame: Buffer): Buffer {
    const op = this.int(12);
    const at = this.int(frame.length + 1);
    switch (op) {
      case 0: {
        // bit flips
        const b = Buffer.from(frame);
        for (let i = 0, n = 1 + this.int(4); i < n && b.length > 0; i++) b[this.int(b.length)]! ^= 1 << this.int(8);
        return b;
      }
      case 1: {
        // inserted bytes (NUL, LF, ':' and '\' are the interesting ones)
        const ins = Buffer.from(Array.from({ length: 1 + this.int(4) }, () => (this.rand() < 0.5 ? this.pick([0, 10, 13, 58, 92]) : this.int(256))));
        return Buffer.concat([frame.subarray(0, at), ins, frame.subarray(at)]);
      }
      case 2:
        // deleted bytes
        return Buffer.concat([frame.subarray(0, at), frame.subarray(Math.min(frame.length, at + 1 + this.int(8)))]);
      case 3:
        // truncated (the next write continues it)
        return frame.subarray(0, at);
      case 4: {
        // a huge header: within the frame limit, over the header limit, or over the frame limit
        const size = this.pick([900, 1100, 4096, 70 * 1024, 150 * 1024]);
        const nl = frame.indexOf(10);
        return Buffer.concat([frame.subarray(0, nl + 1), Buffer.from(`x-huge:${'h'.repeat(size)}\n`), frame.subarray(nl + 1)]);
      }
      case 5: {
        // an undefined escape in a header value
        const nl = frame.indexOf(10);
        return Buffer.concat([frame.subarray(0, nl + 1), Buffer.from(`x-bad:a${this.pick(BAD_ESCAPES)}b\n`), frame.subarray(nl + 1)]);
      }
      case 6: {
        // a content-length that lies, or is not a number
        const nl = frame.indexOf(10);
        const cl = this.pick(['0', '1', '3', '999', '65537', '99999999999999999999', '-1', 'abc', '1.5', ' 12', '0x10']);
        return Buffer.concat([frame.subarray(0, nl + 1), Buffer.from(`content-length:${cl}\n`), frame.subarray(nl + 1)]);
      }
      case 7: {
        // a random command
        const nl = frame.indexOf(10);
        return Buffer.concat([Buffer.from(this.text(10).toUpperCase()), frame.subarray(Math.max(0, nl))]);
      }
      case 8: {
        // many headers
        const nl = frame.indexOf(10);
        let h = '';
        for (let i = 0, n = 30 + this.int(80); i < n; i++) h += `h${i}:${i}\n`;
        return Buffer.concat([frame.subarray(0, nl + 1), Buffer.from(h), frame.subarray(nl + 1)]);
      }
      case 9:
        // CRLF line endings (valid in 1.2), or a lone CR (not)
        return Buffer.from(frame.toString('latin1').replace(/\n/g, this.rand() < 0.7 ? '\r\n' : '\r'), 'latin1');
      case 10: {
        // a header line without a colon, or an empty header name
        const nl = frame.indexOf(10);
        return Buffer.concat([frame.subarray(0, nl + 1), Buffer.from(this.rand() < 0.5 ? 'nocolon\n' : ':value\n'), frame.subarray(nl + 1)]);
      }
      default: {
        // invalid UTF-8 in a header or the body
        const bad = this.pick([Buffer.from([0xff]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe2, 0x82])]);
        return Buffer.concat([frame.subarray(0, at), bad, frame.subarray(at)]);
      }
    }
  }
}
