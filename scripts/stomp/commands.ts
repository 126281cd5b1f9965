// The CLI's commands: connect, send, subscribe (REST names for the senders), history and rooms (REST).
import { StompFailure, UsageError, type Options } from './args.js';
import { StompConnection } from './connection.js';
import { formatMessage, info, out, type MessageJson } from './output.js';
import type { Rest } from './rest.js';

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

export function reportFailure(err: StompFailure): void {
  const f = err.frame;
  if (!f) return info(`error: ${err.message}`);
  const body = f.body.toString('utf8').trim();
  info(`${err.message}${body ? `: ${body}` : ''}${f.headers['receipt-id'] !== undefined ? ` (receipt-id ${f.headers['receipt-id']})` : ''}`);
}

export async function cmdConnect(opts: Options, rest: Rest): Promise<void> {
  const conn = await session(opts, await token(opts, rest), opts.heartBeat ?? [0, 0]);
  const f = conn.connected!;
  out('CONNECTED');
  for (const [k, v] of Object.entries(f.headers)) out(`  ${k}: ${v}`);
  await conn.disconnect();
}

export async function cmdSend(opts: Options, rest: Rest, args: string[]): Promise<void> {
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

export async function cmdSubscribe(opts: Options, rest: Rest, args: string[]): Promise<void> {
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
  const replay =
    r.headers['replayed-count'] !== undefined ? `; replayed ${r.headers['replayed-count']} message(s) up to seq ${r.headers['replay-end-seq']}` : '';
  info(`subscribed to ${destination} (STOMP ${conn.version})${replay}; Ctrl-C to stop`);
}

export async function cmdHistory(opts: Options, rest: Rest, args: string[]): Promise<void> {
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

export async function cmdRooms(opts: Options, rest: Rest): Promise<void> {
  const jwt = await token(opts, rest);
  const r = await rest.call<{
    rooms: Array<{ id: string; name: string | null; type: string; members: number; unreadCount: number; lastMessage: MessageJson | null }>;
  }>('GET', '/api/rooms', jwt);
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
