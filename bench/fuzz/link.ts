// One fuzzing connection (Link) and the worker that keeps one open, reconnecting whenever the server closes it,
// writing chunks of grammar frames with a receipt each and, now and then, a mutated frame after them.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Account } from '../../test/support/api.js';
import type { ServerProc } from '../../test/support/cluster.js';
import { prng } from '../../test/support/fuzz.js';
import { StompSocket } from '../../scripts/stomp/socket.js';
import { FrameGen } from './frame-gen.js';

export interface FuzzParams {
  frames: number;
  connections: number;
  seed: number;
  mutate: number;
  chunk: number;
  defaultLimits: boolean;
}

/** What the workers wrote and met, summed over them. */
export interface FuzzCounters {
  written: number;
  grammar: number;
  mutated: number;
  random: number;
  connections: number;
  refused: number;
  stuck: number;
  errors: Map<string, number>;
}

const ERROR_RE = /(?:^|\0\n?|\n)ERROR\n(?:[^\n]*\n)*?message:([^\n]*)\n/g;

/**
 * One connection of a worker. Every write ("chunk") carries, after its valid frames, an `ACK` with a receipt of its
 * own: a chunk's frames count once its RECEIPT is back (the server decoded and handled them), and at most
 * WINDOW chunks are in flight, so the counts are frames the server consumed, not bytes parked in socket buffers.
 */
const WINDOW = 4;
/** How long a connection may go without progress (a truncated frame waiting, a paused read) before it is dropped. */
const STALL_MS = 4000;

class Link {
  private closed = false;
  /** Highest chunk receipt seen. */
  acked = -1;
  private waiters: Array<() => void> = [];
  private tail = '';

  private constructor(
    private readonly send: (d: Buffer) => void,
    private readonly kill: () => void,
    private readonly errors: Map<string, number>,
  ) {}

  /** A connected Link, or null when the server refused or did not answer within 10 s. */
  static async open(kind: 'tcp' | 'ws', srv: ServerProc, errors: Map<string, number>): Promise<Link | null> {
    let link: Link | null = null;
    const target = kind === 'tcp' ? { kind, host: '127.0.0.1', port: srv.tcpPort } : { kind, url: srv.wsUrl, binary: true };
    try {
      const socket = await StompSocket.open(target, { onData: (d) => link?.onData(d), onClose: () => link?.onClose() }, 10_000);
      link = new Link(
        (d) => socket.write(d),
        () => socket.destroy(),
        errors,
      );
      return link;
    } catch {
      return null;
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  write(d: Buffer): void {
    if (!this.closed) this.send(d);
  }

  destroy(): void {
    this.kill();
  }

  connected = false;

  private onData(d: Buffer): void {
    const text = this.tail + d.toString('latin1');
    this.tail = text.slice(-40);
    if (!this.connected && text.includes('CONNECTED\n')) this.connected = true;
    for (const m of text.matchAll(/receipt-id:c(\d+)\n/g)) this.acked = Math.max(this.acked, Number(m[1]));
    if (d.includes('ERROR\n')) for (const m of text.matchAll(ERROR_RE)) this.errors.set(m[1]!, (this.errors.get(m[1]!) ?? 0) + 1);
    this.wake();
  }

  private onClose(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }

  /** Resolves when `cond` holds or the connection closed (true), or after `ms` without it (false). */
  async until(cond: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!cond() && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return true;
  }
}

export async function worker(
  index: number,
  kind: 'tcp' | 'ws',
  srv: ServerProc,
  user: Account,
  room: string,
  p: FuzzParams,
  c: FuzzCounters,
  stop: () => boolean,
): Promise<void> {
  const rand = prng(p.seed * 1000 + index);
  const gen = new FrameGen(rand, user.token, room);
  while (!stop()) {
    const link = await Link.open(kind, srv, c.errors);
    if (!link) {
      c.refused++;
      await sleep(50);
      continue;
    }
    c.connections++;
    gen.reset();
    try {
      if (await handshake(link, gen, rand, c)) await chunks(link, gen, rand, p, c, stop);
    } finally {
      link.destroy();
    }
  }
}

/** CONNECT (5 % of them mutated); true once CONNECTED. 3 % of the connections never CONNECT: random bytes, or a random frame, straight at the decoder. */
async function handshake(link: Link, gen: FrameGen, rand: () => number, c: FuzzCounters): Promise<boolean> {
  if (rand() < 0.03) {
    link.write(rand() < 0.5 ? gen.rawRandom() : gen.randomCommandFrame());
    if (await link.until(() => false, STALL_MS)) c.random++;
    else c.stuck++;
    return false;
  }
  const connectMutated = rand() < 0.05;
  link.write(connectMutated ? gen.mutate(gen.connect()) : gen.connect());
  if (!(await link.until(() => link.connected, STALL_MS))) {
    c.stuck++;
    return false;
  }
  if (connectMutated) c.mutated++;
  else c.grammar++;
  c.written++;
  return true;
}

/** Writes chunks on a CONNECTED link until it closes, stalls or `stop()`; counts the frames the server consumed. */
async function chunks(link: Link, gen: FrameGen, rand: () => number, p: FuzzParams, c: FuzzCounters, stop: () => boolean): Promise<void> {
  // Chunks: `p.chunk` grammar frames, the chunk's receipt, and now and then a mutated frame after it.
  const inFlight: Array<{ n: number; grammar: number; mutated: number; random: number }> = [];
  let next = 0;
  const settle = () => {
    while (inFlight.length > 0 && inFlight[0]!.n <= link.acked) {
      const k = inFlight.shift()!;
      c.grammar += k.grammar;
      c.mutated += k.mutated;
      c.random += k.random;
      c.written += k.grammar + k.mutated + k.random + 1;
    }
  };
  while (!link.isClosed && !stop()) {
    const frames: Buffer[] = [];
    for (let i = 0; i < p.chunk; i++) frames.push(gen.valid());
    const n = next++;
    frames.push(Buffer.from(`ACK\nid:chunk\nreceipt:c${n}\n\n\0`));
    inFlight.push({ n, grammar: p.chunk, mutated: 0, random: 0 });
    link.write(Buffer.concat(frames));
    if (rand() < p.mutate) {
      // A frame the decoder rejects ends the connection at once, before the frames read with it are handled:
      // the mutated frame goes out only once the chunk before it was answered. It counts once the server
      // answered what follows it (the next chunk's RECEIPT) or ended the connection because of it.
      if (!(await link.until(() => link.acked >= n, STALL_MS))) {
        c.stuck++;
        break;
      }
      settle();
      if (link.isClosed) break;
      const r = rand();
      link.write(r < 0.1 ? gen.rawRandom() : r < 0.2 ? gen.randomCommandFrame() : gen.mutate(gen.valid()));
      inFlight.push({ n: n + 1, grammar: 0, mutated: r < 0.2 ? 0 : 1, random: r < 0.2 ? 1 : 0 });
    }
    if (!(await link.until(() => link.acked >= n - WINDOW + 1, STALL_MS))) {
      c.stuck++;
      break;
    }
    settle();
  }
  settle();
  // The server closed the connection: the frame that made it do so was consumed.
  if (link.isClosed && inFlight.length > 0 && (inFlight[0]!.mutated > 0 || inFlight[0]!.random > 0)) {
    const k = inFlight.shift()!;
    c.mutated += k.mutated;
    c.random += k.random;
    c.written += k.mutated + k.random;
  }
}
