// What the CLI prints: result lines on stdout, notes on stderr, wire bytes made visible (--raw), messages.

export const out = (line: string): void => void process.stdout.write(line + '\n');
export const info = (line: string): void => void process.stderr.write(line + '\n');

/** A wire line made visible: control bytes as escapes, everything else (backslashes included) as it is. */
function visible(bytes: Buffer): string {
  let s = '';
  for (const ch of bytes.toString('utf8')) {
    const c = ch.codePointAt(0)!;
    if (ch === '\0') s += '\\0';
    else if (ch === '\r') s += '\\r';
    else if (ch === '\t') s += '\t';
    else if (c < 0x20 || c === 0x7f) s += `\\x${c.toString(16).padStart(2, '0')}`;
    else s += ch;
  }
  return s;
}

/** Prints wire bytes line by line with a direction prefix; incoming bytes may end mid-line (kept for later). */
export class RawPrinter {
  private pending = Buffer.alloc(0);

  constructor(private readonly prefix: string) {}

  print(bytes: Buffer): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, bytes]) : bytes;
    for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10)) {
      out(`${this.prefix} ${visible(buf.subarray(0, nl))}\\n`);
      buf = buf.subarray(nl + 1);
    }
    this.pending = Buffer.from(buf);
  }

  flush(): void {
    if (this.pending.length) out(`${this.prefix} ${visible(this.pending)}`);
    this.pending = Buffer.alloc(0);
  }
}

const SECRET_HEADERS = new Set(['passcode', 'authorization']);

export function redacted(headers: Record<string, string>): Record<string, string> {
  const copy: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) copy[k] = SECRET_HEADERS.has(k.toLowerCase()) && v.length > 24 ? `${v.slice(0, 20)}…(token shortened)` : v;
  return copy;
}

export interface MessageJson {
  id: string;
  roomId: string;
  seq: string;
  senderId: string;
  type: string;
  content: string;
  createdAt: string;
}

export function formatMessage(m: MessageJson, names: Map<string, string>): string {
  const who = names.has(m.senderId) ? `${names.get(m.senderId)} (${m.senderId})` : `user ${m.senderId}`;
  const content = (m.type === 'IMAGE' ? '[image] ' : '') + m.content.replace(/\n/g, '\n    ');
  return `#${m.seq}  ${m.createdAt}  ${who}: ${content}`;
}
