// Fuzz: millions of random and mutated STOMP frames over TCP and WebSocket against one running instance (started
// here, cluster mode), from several connections in parallel that reconnect whenever the server closes them. A
// deterministic PRNG (seeded per connection) builds the frames: random frames from the client grammar (every client
// command, random headers with every escape, random bodies, right and wrong content-lengths) and mutations of
// valid frames (bit flips, inserted and deleted bytes, truncations, huge headers, undefined escapes, bad
// content-lengths, random commands, raw random bytes). Meanwhile two well-behaved bystanders (WebSocket and TCP)
// exchange a chat message and a typing event every 100 ms. Reported: crashes of the server (must be 0), its RSS
// sampled every second (flat: growth and slope per million frames), the bystanders' round-trip percentiles, frames/s,
// and the server's ERROR answers by code.
//
// npm run bench -- fuzz [--frames 10000000] [--quick] [--connections 16] [--seed 1] [--mutate 0.3]
//                       [--chunk 32] [--default-limits]
//   --frames:         frames to write in total (default 10,000,000; --quick: 200,000)
//   --connections:    fuzzing connections in parallel, half TCP, half WebSocket
//   --mutate:         share of chunks followed by a mutated (or raw random) frame (default 0.2)
//   --chunk:          frames per write
//   --default-limits: run the instance with the configured defaults (1,000 frames/s per connection, ...) instead of
//                     rate limits raised so that the parser and the session state machine see as many frames as
//                     possible
import { readFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import WebSocket from 'ws';
import { Api, type Account } from '../test/support/api.js';
import type { ServerProc } from '../test/support/cluster.js';
import { Bystander, latencyStats, prng } from '../test/support/raw.js';
import { Flags, RUN_ID, appendResults, commandLine, fmt, loadText, printTable, progress, sleep, withServers } from './lib.js';

const MB = 1024 * 1024;

/** Limits raised so that throttling does not hide the parser and the state machine from the fuzzer. */
const FUZZ_ENV: Record<string, string> = {
  RATE_FRAMES_PER_SEC: '200000',
  RATE_FRAMES_BURST: '200000',
  RATE_CONN_PER_SEC: '200000',
  RATE_CONN_BURST: '200000',
  RATE_USER_PER_SEC: '1000000',
  RATE_USER_BURST: '1000000',
  MAX_PENDING_PER_IP: '10000',
  // A truncated frame left waiting is cut off soon (the next chunk usually completes it anyway).
  FRAME_TIMEOUT_MS: '3000',
  CONNECT_TIMEOUT_MS: '1500',
};

export async function run(args: string[]): Promise<void> {
  const f = new Flags(args, ['frames', 'quick', 'connections', 'seed', 'mutate', 'chunk', 'default-limits']);
  const quick = f.str('quick', 'false') === 'true';
  const p = {
    frames: f.int('frames', quick ? 200_000 : 10_000_000),
    connections: f.int('connections', 16, 2),
    seed: f.int('seed', 1, 0),
    mutate: f.num('mutate', 0.2, 0),
    chunk: f.int('chunk', 32),
    defaultLimits: f.str('default-limits', 'false') === 'true',
  };
  if (p.mutate > 1) throw new Error('--mutate is a share (0..1)');
  progress(`fuzz: ${p.frames.toLocaleString('en')} frames over ${p.connections} connections (${p.connections / 2} TCP, ${p.connections / 2} WebSocket), seed ${p.seed}, ${p.chunk} frames per write, ${Math.round(p.mutate * 100)} % of writes end with a mutated frame; ${loadText()}`);
  const env = p.defaultLimits ? {} : FUZZ_ENV;
  await withServers(1, 'fuzz', async ([srv]) => fuzz(srv!, p, args), { env });
}

interface Params {
  frames: number;
  connections: number;
  seed: number;
  mutate: number;
  chunk: number;
  defaultLimits: boolean;
}

interface Counters {
  written: number;
  grammar: number;
  mutated: number;
  random: number;
  connections: number;
  refused: number;
  stuck: number;
  errors: Map<string, number>;
}

async function fuzz(srv: ServerProc, p: Params, args: string[]): Promise<void> {
  const api = new Api(srv.baseUrl);
  const [attacker, by1, by2] = await api.users(3, 'fuzz');
  const room = await api.group(attacker!, []);
  const rooms = async (owner: Account, n: number) => Promise.all(Array.from({ length: n }, () => api.group(owner, [])));
  const bystanders = [
    await Bystander.start(srv, by1!.token, await api.group(by1!, []), await rooms(by1!, 12), 'ws'),
    await Bystander.start(srv, by2!.token, await api.group(by2!, []), await rooms(by2!, 12), 'tcp'),
  ];
  for (const b of bystanders) b.run(100);

  let crashed: string | null = null;
  void srv.exited.then((code) => (crashed ??= `server exited with ${code} (signal ${srv.proc.signalCode ?? 'none'})`));
  const rss = () => {
    try {
      return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;
    } catch {
      return NaN;
    }
  };
  const decodedBefore = await framesDecoded(srv);
  const c: Counters = { written: 0, grammar: 0, mutated: 0, random: 0, connections: 0, refused: 0, stuck: 0, errors: new Map() };
  const samples: Array<{ t: number; frames: number; rss: number; heap: number }> = [];
  let heap = NaN;
  const t0 = performance.now();
  let lastProgress = t0;
  const sampler = setInterval(() => {
    // V8 heap in use plus Buffers outside it (from the server's /metrics): a leak shows here before it shows in RSS.
    void heapInUse(srv).then((v) => (heap = v));
    samples.push({ t: (performance.now() - t0) / 1000, frames: c.written, rss: rss(), heap });
    if (performance.now() - lastProgress >= 5000) {
      lastProgress = performance.now();
      const s = (performance.now() - t0) / 1000;
      const typing = latencyStats(bystanders.flatMap((b) => b.typingLatencies));
      progress(
        `${c.written.toLocaleString('en')} frames (${Math.round(c.written / s).toLocaleString('en')}/s), ${c.connections} connections, server RSS ${fmt(rss() / MB)} MiB, bystander typing p99 ${typing.p99} ms${crashed ? `, ${crashed}` : ''}`,
      );
    }
  }, 1000);

  const workers = Array.from({ length: p.connections }, (_, i) =>
    worker(i, i % 2 === 0 ? 'tcp' : 'ws', srv, attacker!, room, p, c, () => crashed !== null || c.written >= p.frames),
  );
  await Promise.all(workers);
  const elapsedS = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  samples.push({ t: elapsedS, frames: c.written, rss: rss(), heap: await heapInUse(srv) });
  for (const b of bystanders) await b.stop();
  const healthy = crashed === null && (await fetch(`${srv.baseUrl}/healthz`).then((r) => r.status === 200, () => false));
  const decoded = crashed === null ? (await framesDecoded(srv)) - decodedBefore : NaN;

  // Memory: the first third is warm-up (JIT, pools, V8 growing its heap to its working size); the rest must be flat.
  // The heap in use (plus Buffers) is the leak indicator: RSS rarely shrinks once the heap has grown.
  const steady = samples.filter((s) => s.frames >= p.frames / 3 && Number.isFinite(s.rss));
  const base = steady[0]?.rss ?? NaN;
  const maxRss = Math.max(...samples.map((s) => s.rss).filter(Number.isFinite));
  const end = samples[samples.length - 1]!.rss;
  const slope = slopeMiBPerMillion(steady);
  const heapSteady = steady.filter((x) => Number.isFinite(x.heap));
  const heapSlope = slopeMiBPerMillion(heapSteady.map((x) => ({ frames: x.frames, rss: x.heap })));
  const heapStart = heapSteady[0]?.heap ?? NaN;
  const heapEnd = samples[samples.length - 1]!.heap;
  const msg = latencyStats(bystanders.flatMap((b) => b.latencies));
  const typing = latencyStats(bystanders.flatMap((b) => b.typingLatencies));
  const bystanderFailures = bystanders.flatMap((b) => b.failures);
  const bystandersConnected = bystanders.every((b) => !b.conn.isClosed);
  for (const b of bystanders) b.conn.destroy();
  const errors = Object.fromEntries([...c.errors].sort((a, b) => b[1] - a[1]));

  const row = {
    frames: c.written,
    grammarFrames: c.grammar,
    mutatedFrames: c.mutated,
    randomFrames: c.random,
    serverDecodedFrames: decoded,
    connections: c.connections,
    refusedConnections: c.refused,
    stuckConnections: c.stuck,
    seconds: Number(elapsedS.toFixed(1)),
    framesPerSec: Math.round(c.written / elapsedS),
    crashes: crashed ? 1 : 0,
    crash: crashed,
    healthyAfter: healthy,
    rssStartMiB: Number((samples[0]!.rss / MB).toFixed(1)),
    rssSteadyBaseMiB: Number((base / MB).toFixed(1)),
    rssMaxMiB: Number((maxRss / MB).toFixed(1)),
    rssEndMiB: Number((end / MB).toFixed(1)),
    rssSlopeMiBPerMillionFrames: Number(slope.toFixed(2)),
    heapAfterWarmupMiB: Number((heapStart / MB).toFixed(1)),
    heapEndMiB: Number((heapEnd / MB).toFixed(1)),
    heapSlopeMiBPerMillionFrames: Number(heapSlope.toFixed(2)),
    bystanderMessage: msg,
    bystanderTyping: typing,
    bystanderFailures,
    bystandersConnected,
    serverErrors: errors,
    rssSeries: samples.filter((_, i) => i % Math.max(1, Math.floor(samples.length / 60)) === 0).map((s) => [Number(s.t.toFixed(0)), s.frames, Number((s.rss / MB).toFixed(1)), Number((s.heap / MB).toFixed(1))]),
  };

  printTable(
    `fuzz: ${c.written.toLocaleString('en')} frames against one instance (${p.defaultLimits ? 'default limits' : 'rate limits raised'})`,
    ['metric', 'value'],
    [
      ['frames written (grammar-random / mutated / raw random)', `${c.written.toLocaleString('en')} (${c.grammar.toLocaleString('en')} / ${c.mutated.toLocaleString('en')} / ${c.random.toLocaleString('en')})`],
      ['frames decoded by the server (chat_frames_received_total)', Number.isFinite(decoded) ? decoded.toLocaleString('en') : '-'],
      ['frames/s written', row.framesPerSec.toLocaleString('en')],
      ['duration', `${fmt(elapsedS)} s`],
      ['connections opened (refused, cut as stuck)', `${c.connections.toLocaleString('en')} (${c.refused}, ${c.stuck})`],
      ['server crashes', `${row.crashes}${crashed ? ` (${crashed})` : ''}`],
      ['server healthy afterwards (/healthz)', healthy ? 'yes' : 'NO'],
      ['server RSS: start / after warm-up / max / end', `${fmt(row.rssStartMiB)} / ${fmt(row.rssSteadyBaseMiB)} / ${fmt(row.rssMaxMiB)} / ${fmt(row.rssEndMiB)} MiB`],
      ['server RSS slope after warm-up', `${fmt(slope, 2)} MiB per million frames`],
      ['server heap + external memory: after warm-up / end (slope)', `${fmt(heapStart / MB)} / ${fmt(heapEnd / MB)} MiB (${fmt(heapSlope, 2)} MiB per million frames)`],
      ['bystander message round trip p50 / p99 / max (n)', `${msg.p50} / ${msg.p99} / ${msg.max} ms (${msg.count})`],
      ['bystander typing round trip p50 / p99 / max (n)', `${typing.p50} / ${typing.p99} / ${typing.max} ms (${typing.count})`],
      ['bystanders connected throughout, errors', `${bystandersConnected ? 'yes' : 'NO'}, ${bystanderFailures.length}`],
      ['server ERROR answers by code', Object.entries(errors).map(([k, v]) => `${k} ${v.toLocaleString('en')}`).join(', ') || '-'],
    ],
  );
  // The first sample is taken before the first /metrics answer: it has no heap figure yet.
  printTable(
    'server memory over time',
    ['s', 'frames', 'RSS MiB', 'heap + external MiB'],
    row.rssSeries.filter((_, i, a) => i % Math.max(1, Math.ceil(a.length / 12)) === 0 || i === a.length - 1).map(([t, fr, r, h]) => [t!, fr!.toLocaleString('en'), r!, Number.isFinite(h) ? h! : '-']),
  );
  appendResults('fuzz', { ...p, serverEnv: p.defaultLimits ? {} : FUZZ_ENV, command: commandLine('fuzz', args), runId: RUN_ID, load: loadText() }, [row]);
  if (crashed) throw new Error(`the server crashed: ${crashed}`);
}

/** Least-squares slope of RSS (MiB) over frames (millions). */
function slopeMiBPerMillion(points: ReadonlyArray<{ frames: number; rss: number }>): number {
  if (points.length < 2) return NaN;
  const xs = points.map((s) => s.frames / 1e6);
  const ys = points.map((s) => s.rss / MB);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

async function heapInUse(srv: ServerProc): Promise<number> {
  try {
    const text = await (await fetch(`${srv.baseUrl}/metrics`)).text();
    const get = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+(\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    return get('nodejs_heap_size_used_bytes') + get('nodejs_external_memory_bytes');
  } catch {
    return NaN;
  }
}

async function framesDecoded(srv: ServerProc): Promise<number> {
  try {
    const text = await (await fetch(`${srv.baseUrl}/metrics`)).text();
    let sum = 0;
    for (const m of text.matchAll(/^chat_frames_received_total(?:\{[^}]*\})?\s+(\S+)$/gm)) sum += Number(m[1]);
    return sum;
  } catch {
    return NaN;
  }
}

// --- one fuzzing connection, reconnecting ---------------------------------------------------------------------------

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

  static open(kind: 'tcp' | 'ws', srv: ServerProc, errors: Map<string, number>): Promise<Link | null> {
    return new Promise((resolve) => {
      let link: Link | null = null;
      const timer = setTimeout(() => resolve(null), 10_000);
      if (kind === 'tcp') {
        const s: Socket = createConnection({ host: '127.0.0.1', port: srv.tcpPort });
        s.setNoDelay(true);
        link = new Link((d) => void (s.destroyed || s.write(d)), () => s.destroy(), errors);
        s.on('data', (d: Buffer) => link!.onData(d));
        s.on('error', () => {});
        s.on('close', () => {
          link!.onClose();
          resolve(null);
        });
        s.once('connect', () => {
          clearTimeout(timer);
          resolve(link);
        });
      } else {
        const ws = new WebSocket(srv.wsUrl, ['v12.stomp']);
        link = new Link((d) => void (ws.readyState === WebSocket.OPEN && ws.send(d, { binary: true })), () => ws.terminate(), errors);
        ws.on('message', (d: Buffer) => link!.onData(d));
        ws.on('error', () => {});
        ws.on('close', () => {
          link!.onClose();
          resolve(null);
        });
        ws.once('open', () => {
          clearTimeout(timer);
          resolve(link);
        });
      }
    });
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

async function worker(
  index: number,
  kind: 'tcp' | 'ws',
  srv: ServerProc,
  user: Account,
  room: string,
  p: Params,
  c: Counters,
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
      // 3 % of the connections never CONNECT: random bytes, or a random frame, straight at the decoder.
      if (rand() < 0.03) {
        link.write(rand() < 0.5 ? gen.rawRandom() : gen.randomCommandFrame());
        if (await link.until(() => false, STALL_MS)) c.random++;
        else c.stuck++;
        continue;
      }
      const connectMutated = rand() < 0.05;
      link.write(connectMutated ? gen.mutate(gen.connect()) : gen.connect());
      if (!(await link.until(() => link.connected, STALL_MS))) {
        c.stuck++;
        continue;
      }
      if (connectMutated) c.mutated++;
      else c.grammar++;
      c.written++;
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
    } finally {
      link.destroy();
    }
  }
}

const ERROR_RE = /(?:^|\0\n?|\n)ERROR\n(?:[^\n]*\n)*?message:([^\n]*)\n/g;

// --- frames ---------------------------------------------------------------------------------------------------------

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
    const cmd = this.rand() < 0.5 ? this.pick(CLIENT_COMMANDS) : this.text(12).toUpperCase().replace(/[^A-Z]/g, '') || 'X';
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
