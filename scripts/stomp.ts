// A STOMP command-line client for manual testing against a running instance, speaking our own codec (protocol/).
//
//   npm run stomp -- <command> [options]        (or: npx tsx scripts/stomp.ts <command> [options])
//
// Frames go over WebSocket (derived from --url) or plain TCP (--tcp). Exit status: 0 done, 1 failed (an ERROR
// frame, a refused REST call, a lost connection, bad usage). Run with --help for the commands and options.
import { createConnection, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { StompDecoder, encodeFrame } from '../protocol/index.js';
import type { Frame, HeadersInput, StompVersion } from '../protocol/index.js';

const USAGE = `Usage: npm run stomp -- <command> [options]

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

class UsageError extends Error {}

/** An ERROR frame from the server, or a closed connection. */
class StompFailure extends Error {
  constructor(
    message: string,
    readonly frame?: Frame,
  ) {
    super(message);
  }
}

interface Options {
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

// --- output -----------------------------------------------------------------------------------------

const out = (line: string): void => void process.stdout.write(line + '\n');
const info = (line: string): void => void process.stderr.write(line + '\n');

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
class RawPrinter {
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

function redacted(headers: Record<string, string>): Record<string, string> {
  const copy: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) copy[k] = SECRET_HEADERS.has(k.toLowerCase()) && v.length > 24 ? `${v.slice(0, 20)}…(token shortened)` : v;
  return copy;
}

interface MessageJson {
  id: string;
  roomId: string;
  seq: string;
  senderId: string;
  type: string;
  content: string;
  createdAt: string;
}

function formatMessage(m: MessageJson, names: Map<string, string>): string {
  const who = names.has(m.senderId) ? `${names.get(m.senderId)} (${m.senderId})` : `user ${m.senderId}`;
  const content = (m.type === 'IMAGE' ? '[image] ' : '') + m.content.replace(/\n/g, '\n    ');
  return `#${m.seq}  ${m.createdAt}  ${who}: ${content}`;
}

// --- REST -------------------------------------------------------------------------------------------

class Rest {
  constructor(readonly base: string) {}

  async call<T>(method: string, path: string, token?: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        method,
        headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      throw new Error(`cannot reach ${this.base}: ${(err as Error).cause ? String((err as Error).cause) : (err as Error).message}`);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON
    }
    if (!res.ok) {
      const e = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
      throw new Error(`${method} ${path}: HTTP ${res.status}${e?.code ? ` ${e.code}` : ''}${e?.message ? `: ${e.message}` : ''}`);
    }
    return parsed as T;
  }

  /** userId -> nickname for a room's members; empty when the room cannot be read (best effort). */
  async names(roomId: string, token: string): Promise<Map<string, string>> {
    const map = new Map<string, string>();
    try {
      const room = await this.call<{ members?: Array<{ userId: string; nickname: string }> }>('GET', `/api/rooms/${encodeURIComponent(roomId)}`, token);
      for (const m of room.members ?? []) map.set(m.userId, m.nickname);
    } catch {
      // names are a nicety: fall back to ids
    }
    return map;
  }
}

// --- STOMP connection -------------------------------------------------------------------------------

type Waiter = { match: (f: Frame) => boolean; resolve: (f: Frame) => void };

class StompConnection {
  version: StompVersion = '1.2';
  connected: Frame | null = null;
  onMessage: ((f: Frame) => void) | null = null;
  /** Called once when the connection fails (ERROR frame or close while not expected). */
  onFailure: ((err: StompFailure) => void) | null = null;
  private readonly decoder: StompDecoder;
  private readonly waiters: Waiter[] = [];
  private socket: Socket | null = null;
  private ws: WebSocket | null = null;
  private rawIn = new RawPrinter('<<<');
  private rawOut = new RawPrinter('>>>');
  private closing = false;
  private failed = false;
  /** The transport opened (before that, a failure rejects open() instead). */
  private isOpen = false;
  private lastReceived = Date.now();
  private timers: NodeJS.Timeout[] = [];
  private receiptCounter = 0;

  constructor(private readonly opts: Options) {
    this.decoder = new StompDecoder({ onFrame: (f) => this.onFrame(f) }, { commands: 'server', maxFrameBytes: 16 * 1024 * 1024, maxHeaders: 1000, maxHeaderBytes: 64 * 1024 });
  }

  /** Opens the transport (TCP or WebSocket). */
  open(): Promise<void> {
    const { tcp } = this.opts;
    if (tcp) {
      return new Promise((resolve, reject) => {
        const s = createConnection({ host: tcp.host, port: tcp.port }, () => {
          this.isOpen = true;
          s.off('error', reject);
          s.on('error', (err) => this.fail(new StompFailure(`connection error: ${err.message}`)));
          resolve();
        });
        s.setNoDelay(true);
        s.once('error', (err) => reject(new Error(`cannot connect to ${tcp.host}:${tcp.port}: ${err.message}`)));
        s.on('data', (d: Buffer) => this.onBytes(d));
        s.on('close', () => this.onClosed());
        this.socket = s;
      });
    }
    const url = wsUrl(this.opts.url);
    return new Promise((resolve, reject) => {
      const ordered = ['1.2', '1.1', '1.0'].filter((v) => v !== this.opts.version);
      const ws = new WebSocket(url, [this.opts.version, ...ordered].map((v) => `v${v.replace('.', '')}.stomp`));
      ws.once('open', () => {
        this.isOpen = true;
        ws.off('error', reject);
        ws.on('error', (err) => this.fail(new StompFailure(`WebSocket error: ${err.message}`)));
        resolve();
      });
      ws.once('error', (err) => reject(new Error(`cannot open ${url}: ${err.message}`)));
      ws.on('message', (data) => this.onBytes(Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer)));
      ws.on('close', () => this.onClosed());
      this.ws = ws;
    });
  }

  private onBytes(chunk: Buffer): void {
    this.lastReceived = Date.now();
    if (this.opts.raw) this.rawIn.print(chunk);
    try {
      this.decoder.push(chunk);
    } catch (err) {
      this.fail(new StompFailure(`unreadable frame from the server: ${(err as Error).message}`));
    }
  }

  private onFrame(f: Frame): void {
    if (f.command === 'CONNECTED') {
      // From here on headers are written and read as the negotiated version says (CONNECTED itself never escapes).
      this.version = (f.headers.version ?? '1.0') as StompVersion;
      this.decoder.version = this.version;
    }
    if (f.command === 'ERROR') {
      this.fail(new StompFailure(`ERROR ${f.headers.message ?? '(no message header)'}`, f));
      return;
    }
    const i = this.waiters.findIndex((w) => w.match(f));
    if (i !== -1) {
      const [w] = this.waiters.splice(i, 1);
      w!.resolve(f);
      return;
    }
    if (f.command === 'MESSAGE') this.onMessage?.(f);
  }

  private onClosed(): void {
    this.rawIn.flush();
    for (const t of this.timers) clearInterval(t);
    if (!this.closing && this.isOpen) this.fail(new StompFailure('the server closed the connection'));
  }

  private fail(err: StompFailure): void {
    if (this.failed) return;
    this.failed = true;
    this.closing = true;
    this.onFailure?.(err);
  }

  send(command: string, headers: HeadersInput, body?: string): void {
    const bytes = encodeFrame(command, headers, body, this.version);
    if (this.opts.raw) {
      const shown = Array.isArray(headers) ? headers : redacted(headers as Record<string, string>);
      this.rawOut.print(command === 'CONNECT' || command === 'STOMP' ? encodeFrame(command, shown, body, this.version) : bytes);
    }
    if (this.socket) this.socket.write(bytes);
    else this.ws?.send(bytes);
  }

  private wait(match: (f: Frame) => boolean, what: string, ms = 30_000): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i !== -1) this.waiters.splice(i, 1);
        reject(new StompFailure(`no ${what} within ${ms} ms`));
      }, ms);
      const w: Waiter = {
        match,
        resolve: (f) => {
          clearTimeout(t);
          resolve(f);
        },
      };
      this.waiters.push(w);
    });
  }

  nextReceiptId(prefix: string): string {
    return `${prefix}-${++this.receiptCounter}`;
  }

  /** Sends a frame with a receipt and resolves with its RECEIPT. */
  request(command: string, headers: Record<string, string>, body?: string, prefix = command.toLowerCase()): Promise<Frame> {
    const receipt = this.nextReceiptId(prefix);
    const got = this.wait((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === receipt, `RECEIPT for ${command}`);
    this.send(command, { ...headers, receipt }, body);
    return got;
  }

  async connect(token: string, heartBeat: [number, number]): Promise<Frame> {
    const host = this.opts.tcp?.host ?? new URL(wsUrl(this.opts.url)).hostname;
    const got = this.wait((f) => f.command === 'CONNECTED', 'CONNECTED');
    this.send('CONNECT', {
      'accept-version': this.opts.version,
      host,
      ...(this.opts.version === '1.0' ? {} : { 'heart-beat': `${heartBeat[0]},${heartBeat[1]}` }),
      Authorization: `Bearer ${token}`,
    });
    const f = await got;
    this.connected = f;
    this.startHeartbeats(heartBeat, f);
    return f;
  }

  /** STOMP heart-beating (1.1+): our EOLs every max(cx, sy); the server is dead after 2x max(cy, sx) + 2 s. */
  private startHeartbeats([cx, cy]: [number, number], connected: Frame): void {
    if (this.version === '1.0') return;
    const [sx = 0, sy = 0] = (connected.headers['heart-beat'] ?? '0,0').split(',').map((v) => Number(v.trim()) || 0);
    if (cx > 0 && sy > 0) {
      this.timers.push(
        setInterval(() => {
          if (this.opts.raw) this.rawOut.print(Buffer.from('\n'));
          if (this.socket) this.socket.write('\n');
          else this.ws?.send('\n');
        }, Math.max(cx, sy)),
      );
    }
    if (cy > 0 && sx > 0) {
      const deadAfter = 2 * Math.max(cy, sx) + 2000;
      this.timers.push(
        setInterval(() => {
          if (Date.now() - this.lastReceived > deadAfter) this.fail(new StompFailure(`no heart-beat from the server for ${deadAfter} ms`));
        }, Math.max(cy, sx)),
      );
    }
  }

  /** DISCONNECT with a receipt (STOMP's graceful close), then close the transport. */
  async disconnect(ms = 5000): Promise<void> {
    if (this.closing) return this.close();
    const receipt = this.nextReceiptId('disconnect');
    const got = this.wait((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === receipt, 'RECEIPT for DISCONNECT', ms);
    this.send('DISCONNECT', { receipt });
    this.closing = true;
    try {
      await got;
    } finally {
      this.close();
    }
  }

  close(): void {
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    this.socket?.end();
    this.socket?.destroy();
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
  }

  /** Writes ACK for a MESSAGE of a client-ack subscription, as the negotiated version defines it. */
  ack(f: Frame): void {
    if (this.version === '1.2') this.send('ACK', { id: f.headers.ack ?? f.headers['message-id'] ?? '' });
    else if (this.version === '1.1') this.send('ACK', { 'message-id': f.headers['message-id'] ?? '', subscription: f.headers.subscription ?? '' });
    else this.send('ACK', { 'message-id': f.headers['message-id'] ?? '' });
  }
}

function wsUrl(base: string): string {
  const u = new URL(base);
  if (u.protocol === 'ws:' || u.protocol === 'wss:') return u.toString();
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = '/ws';
  u.search = '';
  return u.toString();
}

function restBase(base: string): string {
  const u = new URL(base);
  if (u.protocol === 'ws:') u.protocol = 'http:';
  else if (u.protocol === 'wss:') u.protocol = 'https:';
  return u.origin;
}

// --- commands ---------------------------------------------------------------------------------------

function destinationOf(target: string): string {
  if (target.startsWith('/')) return target;
  if (!/^\d+$/.test(target)) throw new UsageError(`"${target}" is neither a room id nor a destination starting with /`);
  return `/topic/rooms.${target}`;
}

function roomIdOf(destination: string): string | null {
  return /^\/topic\/rooms\.(\d+)$/.exec(destination)?.[1] ?? null;
}

async function token(opts: Options, rest: Rest): Promise<string> {
  if (opts.token) return opts.token;
  if (opts.email !== undefined || opts.password !== undefined) {
    if (opts.email === undefined || opts.password === undefined) throw new UsageError('--email and --password go together');
    const r = await rest.call<{ accessToken: string }>('POST', '/api/auth/login', undefined, { email: opts.email, password: opts.password });
    return r.accessToken;
  }
  if (process.env.CHAT_TOKEN) return process.env.CHAT_TOKEN;
  throw new UsageError('no credentials: give --token <jwt>, --email/--password, or set CHAT_TOKEN');
}

/** Opens a STOMP session; failures (ERROR frames, lost connection) end the process with status 1. */
async function session(opts: Options, jwt: string, heartBeat: [number, number]): Promise<StompConnection> {
  const conn = new StompConnection(opts);
  conn.onFailure = (err) => {
    reportFailure(err);
    conn.close();
    process.exit(1);
  };
  await conn.open();
  await conn.connect(jwt, heartBeat);
  return conn;
}

function reportFailure(err: StompFailure): void {
  const f = err.frame;
  if (!f) return info(`error: ${err.message}`);
  const body = f.body.toString('utf8').trim();
  info(`${err.message}${body ? `: ${body}` : ''}${f.headers['receipt-id'] !== undefined ? ` (receipt-id ${f.headers['receipt-id']})` : ''}`);
}

async function cmdConnect(opts: Options, rest: Rest): Promise<void> {
  const conn = await session(opts, await token(opts, rest), opts.heartBeat ?? [0, 0]);
  const f = conn.connected!;
  out('CONNECTED');
  for (const [k, v] of Object.entries(f.headers)) out(`  ${k}: ${v}`);
  await conn.disconnect();
}

async function cmdSend(opts: Options, rest: Rest, args: string[]): Promise<void> {
  const [target, ...words] = args;
  if (target === undefined) throw new UsageError('send needs a room id (or destination) and a text');
  const destination = destinationOf(target);
  const text = words.length > 0 ? words.join(' ') : process.stdin.isTTY ? '' : await readStdin();
  if (text === '') throw new UsageError('send needs a text (as arguments, or on standard input)');
  const conn = await session(opts, await token(opts, rest), opts.heartBeat ?? [0, 0]);
  const headers: Record<string, string> = { destination, 'content-type': 'text/plain;charset=utf-8' };
  if (opts.idempotencyKey !== undefined) headers['idempotency-key'] = opts.idempotencyKey;
  const r = await conn.request('SEND', headers, text, 'send');
  const extra = Object.entries(r.headers).filter(([k]) => k !== 'receipt-id' && k !== 'message-id' && k !== 'seq');
  out(`message-id=${r.headers['message-id'] ?? '-'} seq=${r.headers.seq ?? '-'}${extra.map(([k, v]) => ` ${k}=${v}`).join('')}`);
  await conn.disconnect();
}

async function cmdSubscribe(opts: Options, rest: Rest, args: string[]): Promise<void> {
  const [target] = args;
  if (target === undefined) throw new UsageError('subscribe needs a room id (or destination)');
  const destination = destinationOf(target);
  const jwt = await token(opts, rest);
  const roomId = roomIdOf(destination);
  const names = roomId !== null && !opts.json ? await rest.names(roomId, jwt) : new Map<string, string>();
  const conn = await session(opts, jwt, opts.heartBeat ?? [10_000, 10_000]);
  let seen = 0;
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    info(why);
    try {
      await conn.disconnect();
      info('disconnected');
      process.exit(0);
    } catch (err) {
      info(`error: ${(err as Error).message}`);
      process.exit(1);
    }
  };
  conn.onMessage = (f) => {
    const body = f.body.toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    if (opts.json) out(json !== undefined ? JSON.stringify(json) : JSON.stringify(body));
    else if (f.headers['event-type'] !== undefined) out(`[${f.headers['event-type']}] ${body}`);
    else if (json && typeof json === 'object' && 'seq' in json) {
      const m = json as MessageJson;
      if (!names.has(m.senderId) && roomId !== null) void rest.names(roomId, jwt).then((n) => n.forEach((v, k) => names.set(k, v)));
      out(formatMessage(m, names));
    } else out(body);
    if (opts.ack !== 'auto') conn.ack(f);
    if (opts.count !== undefined && ++seen >= opts.count) void stop(`received ${seen} message(s)`);
  };
  process.on('SIGINT', () => void stop('interrupted'));
  process.on('SIGTERM', () => void stop('terminated'));
  const headers: Record<string, string> = { destination, id: '0' };
  if (opts.ack !== 'auto') headers.ack = opts.ack;
  if (opts.sinceSeq !== undefined) headers['since-seq'] = opts.sinceSeq;
  const r = await conn.request('SUBSCRIBE', headers, undefined, 'subscribe');
  const replay = r.headers['replayed-count'] !== undefined ? `; replayed ${r.headers['replayed-count']} message(s) up to seq ${r.headers['replay-end-seq']}` : '';
  info(`subscribed to ${destination} (STOMP ${conn.version})${replay}; Ctrl-C to stop`);
}

async function cmdHistory(opts: Options, rest: Rest, args: string[]): Promise<void> {
  const [roomId] = args;
  if (roomId === undefined || !/^\d+$/.test(roomId)) throw new UsageError('history needs a room id');
  const jwt = await token(opts, rest);
  const limit = opts.limit ?? 20;
  const query = opts.sinceSeq !== undefined ? `afterSeq=${encodeURIComponent(opts.sinceSeq)}&limit=${limit}` : `limit=${limit}`;
  const page = await rest.call<{ messages: MessageJson[]; hasMore?: boolean }>('GET', `/api/rooms/${roomId}/messages?${query}`, jwt);
  // A `before` page is newest first; afterSeq is oldest first. Print oldest first either way.
  const messages = opts.sinceSeq !== undefined ? page.messages : [...page.messages].reverse();
  if (opts.json) {
    for (const m of messages) out(JSON.stringify(m));
    return;
  }
  const names = await rest.names(roomId, jwt);
  for (const m of messages) out(formatMessage(m, names));
  if (messages.length === 0) info('no messages');
  else if (page.hasMore) info(`more after seq ${messages[messages.length - 1]!.seq}`);
}

async function cmdRooms(opts: Options, rest: Rest): Promise<void> {
  const jwt = await token(opts, rest);
  const r = await rest.call<{ rooms: Array<{ id: string; name: string | null; type: string; members: number; unreadCount: number; lastMessage: MessageJson | null }> }>(
    'GET',
    '/api/rooms',
    jwt,
  );
  if (opts.json) {
    for (const room of r.rooms) out(JSON.stringify(room));
    return;
  }
  if (r.rooms.length === 0) info('no rooms');
  for (const room of r.rooms) {
    const last = room.lastMessage ? `  last #${room.lastMessage.seq}: ${room.lastMessage.content.slice(0, 60).replace(/\n/g, ' ')}` : '';
    out(`${room.id}  ${room.type}  ${room.name ?? '-'}  members=${room.members} unread=${room.unreadCount}${last}`);
  }
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8').replace(/\n$/, '')));
    process.stdin.on('error', reject);
  });
}

// --- arguments --------------------------------------------------------------------------------------

function positiveInt(name: string, v: string | undefined, min = 0): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`--${name} must be an integer >= ${min}`);
  return Number(v);
}

function parse(argv: string[]): { command: string | undefined; args: string[]; opts: Options | null; help: boolean } {
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

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(process.argv.slice(2));
  } catch (err) {
    info(`error: ${(err as Error).message} (npm run stomp -- --help)`);
    process.exit(1);
  }
  const { command, args, opts, help } = parsed;
  if (help || opts === null) {
    out(USAGE);
    return;
  }
  const rest = new Rest(restBase(opts.url));
  try {
    switch (command) {
      case 'connect':
        return await cmdConnect(opts, rest);
      case 'subscribe':
        return await cmdSubscribe(opts, rest, args);
      case 'send':
        return await cmdSend(opts, rest, args);
      case 'history':
        return await cmdHistory(opts, rest, args);
      case 'rooms':
        return await cmdRooms(opts, rest);
      case undefined:
        throw new UsageError('no command given');
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) info(`error: ${err.message} (npm run stomp -- --help)`);
    else if (err instanceof StompFailure) reportFailure(err);
    else info(`error: ${(err as Error).message}`);
    process.exit(1);
  }
}

await main();
