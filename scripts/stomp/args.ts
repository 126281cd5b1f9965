// The CLI's command line (node:util parseArgs), checked into Options; its usage text; its two kinds of failure.
import { parseArgs } from 'node:util';
import type { Frame, StompVersion } from '../../protocol/index.js';

export const USAGE = `Usage: npm run stomp -- <command> [options]

Commands
  connect                       CONNECT, print the CONNECTED headers, DISCONNECT
  subscribe <room|destination>  print every MESSAGE (seq, time, sender, content) until Ctrl-C, which
                                DISCONNECTs cleanly; <room> is a room id (/topic/rooms.<id>), or give a
                                destination such as /user/queue/notifications or /topic/rooms.<id>.events
      --since-seq N             first every stored message after seq N (0: the whole room), then live ones
      --ack MODE                auto (default), client or client-individual (each MESSAGE is ACKed once printed)
      --count N                 stop (DISCONNECT) after N MESSAGEs
      --json                    print each MESSAGE body as one JSON line
  send <room|destination> <text…>
                                SEND with a receipt; print the message-id and seq of the RECEIPT
      --idempotency-key K       the same key twice gives the same message
  history <room>                REST: stored messages, oldest first
      --limit N                 how many (1..100, default 20): the newest N, or the first N after --since-seq
      --since-seq N             the messages after seq N
      --json                    one JSON line per message
  rooms                         REST: the caller's rooms

Options
  --url URL                     the instance (default $CHAT_URL or http://localhost:8080); REST under /api, the
                                WebSocket is ws(s)://<host>/ws. A ws:// or wss:// URL is used as the WebSocket itself
  --tcp HOST:PORT               speak STOMP over plain TCP instead of WebSocket (e.g. --tcp localhost:61613)
  --token JWT                   the access token (else --email/--password, else $CHAT_TOKEN)
  --email E --password P        log in over REST to get a token
  --stomp-version V             1.0, 1.1 or 1.2 (default): the accept-version sent (and the WebSocket sub-protocol)
  --heart-beat CX,CY            heart-beat offer in ms (default 10000,10000 for subscribe, 0,0 otherwise)
  --raw                         print every frame as it is on the wire: '>>> ' sent, '<<< ' received, one wire
                                line per output line; LF shown as \\n, CR as \\r, NUL as \\0, other control bytes as
                                \\xHH; backslashes as they are (so STOMP header escapes such as \\c show verbatim).
                                The token in CONNECT is shortened.
  -h, --help                    this text

Examples
  npm run stomp -- rooms --email a@example.com --password password-a
  npm run stomp -- subscribe 42 --since-seq 0 --token "$TB"
  npm run stomp -- send 42 hello there --token "$TA"
  npm run stomp -- connect --tcp localhost:61613 --stomp-version 1.0 --raw --token "$TA"
`;

export class UsageError extends Error {}

/** An ERROR frame from the server, or a closed connection. */
export class StompFailure extends Error {
  constructor(
    message: string,
    readonly frame?: Frame,
  ) {
    super(message);
  }
}

export interface Options {
  url: string;
  tcp?: { host: string; port: number };
  version: StompVersion;
  raw: boolean;
  json: boolean;
  heartBeat?: [number, number];
  token?: string;
  email?: string;
  password?: string;
  sinceSeq?: string;
  limit?: number;
  count?: number;
  ack: 'auto' | 'client' | 'client-individual';
  idempotencyKey?: string;
}

function positiveInt(name: string, v: string | undefined, min = 0): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`--${name} must be an integer >= ${min}`);
  return Number(v);
}

export function parse(argv: string[]): { command: string | undefined; args: string[]; opts: Options | null; help: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      tcp: { type: 'string' },
      token: { type: 'string' },
      email: { type: 'string' },
      password: { type: 'string' },
      'stomp-version': { type: 'string' },
      'heart-beat': { type: 'string' },
      raw: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'since-seq': { type: 'string' },
      limit: { type: 'string' },
      count: { type: 'string' },
      ack: { type: 'string' },
      'idempotency-key': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...args] = positionals;
  if (values.help) return { command, args, opts: null, help: true };
  const version = values['stomp-version'] ?? '1.2';
  if (version !== '1.0' && version !== '1.1' && version !== '1.2') throw new UsageError('--stomp-version must be 1.0, 1.1 or 1.2');
  let tcp: Options['tcp'];
  if (values.tcp !== undefined) {
    const m = /^(.+):(\d{1,5})$/.exec(values.tcp);
    if (!m) throw new UsageError('--tcp must be HOST:PORT');
    tcp = { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
  }
  let heartBeat: [number, number] | undefined;
  if (values['heart-beat'] !== undefined) {
    const m = /^(\d+),(\d+)$/.exec(values['heart-beat']);
    if (!m) throw new UsageError('--heart-beat must be CX,CY (milliseconds)');
    heartBeat = [Number(m[1]), Number(m[2])];
  }
  const ack = values.ack ?? 'auto';
  if (ack !== 'auto' && ack !== 'client' && ack !== 'client-individual') throw new UsageError('--ack must be auto, client or client-individual');
  const sinceSeq = values['since-seq'];
  if (sinceSeq !== undefined && !/^\d+$/.test(sinceSeq)) throw new UsageError('--since-seq must be a seq (a decimal number, 0 = from the start)');
  const limit = positiveInt('limit', values.limit, 1);
  if (limit !== undefined && limit > 100) throw new UsageError('--limit must be at most 100');
  // An empty CHAT_URL counts as unset.
  const url = values.url ?? (process.env.CHAT_URL || 'http://localhost:8080');
  try {
    new URL(url);
  } catch {
    throw new UsageError(`--url ${url} is not a URL`);
  }
  return {
    command,
    args,
    help: false,
    opts: {
      url,
      tcp,
      version,
      raw: values.raw ?? false,
      json: values.json ?? false,
      heartBeat,
      token: values.token,
      email: values.email,
      password: values.password,
      sinceSeq,
      limit,
      count: positiveInt('count', values.count, 1),
      ack,
      idempotencyKey: values['idempotency-key'],
    },
  };
}
