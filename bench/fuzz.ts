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
//
// bench/fuzz/frame-gen.ts builds the frames; bench/fuzz/link.ts runs the connections.
import { readFileSync } from 'node:fs';
import { Api, type Account } from '../test/support/api.js';
import { Bystander } from '../test/support/bystander.js';
import type { ServerProc } from '../test/support/cluster.js';
import { metricSum, metricsText, samples as parseSamples } from '../test/support/scrape.js';
import { latencyStats } from '../test/support/stats.js';
import { worker, type FuzzCounters, type FuzzParams } from './fuzz/link.js';
import { Flags, RUN_ID, appendResults, commandLine, fmt, loadText, printTable, progress, withServers } from './lib.js';

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
  const f = new Flags(args, ['frames', 'connections', 'seed', 'mutate', 'chunk'], ['quick', 'default-limits']);
  const quick = f.bool('quick');
  const p = {
    frames: f.int('frames', quick ? 200_000 : 10_000_000),
    connections: f.int('connections', 16, 2),
    seed: f.int('seed', 1, 0),
    mutate: f.num('mutate', 0.2, 0),
    chunk: f.int('chunk', 32),
    defaultLimits: f.bool('default-limits'),
  };
  if (p.mutate > 1) throw new Error('--mutate is a share (0..1)');
  progress(
    `fuzz: ${p.frames.toLocaleString('en')} frames over ${p.connections} connections (${p.connections / 2} TCP, ${p.connections / 2} WebSocket), seed ${p.seed}, ${p.chunk} frames per write, ${Math.round(p.mutate * 100)} % of writes end with a mutated frame; ${loadText()}`,
  );
  const env = p.defaultLimits ? {} : FUZZ_ENV;
  await withServers(1, 'fuzz', async ([srv]) => fuzz(srv!, p, args), { env });
}

interface Sample {
  t: number;
  frames: number;
  rss: number;
  heap: number;
}

async function fuzz(srv: ServerProc, p: FuzzParams, args: string[]): Promise<void> {
  const api = new Api(srv.baseUrl);
  const [attacker, by1, by2] = await api.users(3, 'fuzz');
  const room = await api.group(attacker!, []);
  const bystanders = await startBystanders(api, srv, by1!, by2!);
  let crashed: string | null = null;
  void srv.exited.then((code) => (crashed ??= `server exited with ${code} (signal ${srv.proc.signalCode ?? 'none'})`));
  const decodedBefore = await metricSum(srv.baseUrl, 'chat_frames_received_total');
  const c: FuzzCounters = { written: 0, grammar: 0, mutated: 0, random: 0, connections: 0, refused: 0, stuck: 0, errors: new Map() };
  const t0 = performance.now();
  const sampler = sampleMemory(
    srv,
    () => c.written,
    (rssNow) => {
      const s = (performance.now() - t0) / 1000;
      const typing = latencyStats(bystanders.flatMap((b) => b.typingLatencies));
      progress(
        `${c.written.toLocaleString('en')} frames (${Math.round(c.written / s).toLocaleString('en')}/s), ${c.connections} connections, server RSS ${fmt(rssNow / MB)} MiB, bystander typing p99 ${typing.p99} ms${crashed ? `, ${crashed}` : ''}`,
      );
    },
  );

  const workers = Array.from({ length: p.connections }, (_, i) =>
    worker(i, i % 2 === 0 ? 'tcp' : 'ws', srv, attacker!, room, p, c, () => crashed !== null || c.written >= p.frames),
  );
  await Promise.all(workers);
  const elapsedS = (performance.now() - t0) / 1000;
  const samples = await sampler.stop();
  for (const b of bystanders) await b.stop();
  const healthy =
    crashed === null &&
    (await fetch(`${srv.baseUrl}/healthz`).then(
      (r) => r.status === 200,
      () => false,
    ));
  const decoded = crashed === null ? (await metricSum(srv.baseUrl, 'chat_frames_received_total')) - decodedBefore : NaN;
  const row = resultRow({ c, elapsedS, crashed, healthy, decoded, samples, bystanders, frames: p.frames });
  for (const b of bystanders) b.conn.destroy();
  report(row, c, p, decoded, crashed);
  appendResults('fuzz', { ...p, serverEnv: p.defaultLimits ? {} : FUZZ_ENV, command: commandLine('fuzz', args), runId: RUN_ID, load: loadText() }, [row]);
  if (crashed) throw new Error(`the server crashed: ${crashed}`);
}

/** Two well-behaved bystanders (WebSocket and TCP), each with its own room and 12 rooms for typing pings. */
async function startBystanders(api: Api, srv: ServerProc, by1: Account, by2: Account): Promise<Bystander[]> {
  const rooms = async (owner: Account, n: number) => Promise.all(Array.from({ length: n }, () => api.group(owner, [])));
  const bystanders = [
    await Bystander.start(srv, by1.token, await api.group(by1, []), await rooms(by1, 12), 'ws'),
    await Bystander.start(srv, by2.token, await api.group(by2, []), await rooms(by2, 12), 'tcp'),
  ];
  for (const b of bystanders) b.run(100);
  return bystanders;
}

/** The server's RSS and heap every second (a progress line every 5 s); stop() takes a last sample and returns them all. */
function sampleMemory(srv: ServerProc, frames: () => number, onProgress: (rss: number) => void): { stop(): Promise<Sample[]> } {
  const samples: Sample[] = [];
  const t0 = performance.now();
  const rss = () => {
    try {
      return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;
    } catch {
      return NaN;
    }
  };
  let heap = NaN;
  let lastProgress = t0;
  const timer = setInterval(() => {
    // V8 heap in use plus Buffers outside it (from the server's /metrics): a leak shows here before it shows in RSS.
    void heapInUse(srv).then((v) => (heap = v));
    samples.push({ t: (performance.now() - t0) / 1000, frames: frames(), rss: rss(), heap });
    if (performance.now() - lastProgress >= 5000) {
      lastProgress = performance.now();
      onProgress(rss());
    }
  }, 1000);
  return {
    async stop() {
      clearInterval(timer);
      samples.push({ t: (performance.now() - t0) / 1000, frames: frames(), rss: rss(), heap: await heapInUse(srv) });
      return samples;
    },
  };
}

interface Outcome {
  c: FuzzCounters;
  elapsedS: number;
  crashed: string | null;
  healthy: boolean;
  decoded: number;
  samples: Sample[];
  bystanders: Bystander[];
  frames: number;
}

/** The result line: counts, crashes, memory (flat after warm-up?) and the bystanders' round trips. */
function resultRow({ c, elapsedS, crashed, healthy, decoded, samples, bystanders, frames }: Outcome) {
  const m = memoryFigures(samples, frames);
  return {
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
    rssSteadyBaseMiB: Number((m.base / MB).toFixed(1)),
    rssMaxMiB: Number((m.maxRss / MB).toFixed(1)),
    rssEndMiB: Number((m.end / MB).toFixed(1)),
    rssSlopeMiBPerMillionFrames: Number(m.slope.toFixed(2)),
    heapAfterWarmupMiB: Number((m.heapStart / MB).toFixed(1)),
    heapEndMiB: Number((m.heapEnd / MB).toFixed(1)),
    heapSlopeMiBPerMillionFrames: Number(m.heapSlope.toFixed(2)),
    bystanderMessage: latencyStats(bystanders.flatMap((b) => b.latencies)),
    bystanderTyping: latencyStats(bystanders.flatMap((b) => b.typingLatencies)),
    bystanderFailures: bystanders.flatMap((b) => b.failures),
    bystandersConnected: bystanders.every((b) => !b.conn.isClosed),
    serverErrors: Object.fromEntries([...c.errors].sort((a, b) => b[1] - a[1])),
    rssSeries: samples
      .filter((_, i) => i % Math.max(1, Math.floor(samples.length / 60)) === 0)
      .map((s) => [Number(s.t.toFixed(0)), s.frames, Number((s.rss / MB).toFixed(1)), Number((s.heap / MB).toFixed(1))]),
  };
}

/**
 * Memory: the first third is warm-up (JIT, pools, V8 growing its heap to its working size); the rest must be flat.
 * The heap in use (plus Buffers) is the leak indicator: RSS rarely shrinks once the heap has grown.
 */
function memoryFigures(samples: readonly Sample[], frames: number) {
  const steady = samples.filter((s) => s.frames >= frames / 3 && Number.isFinite(s.rss));
  const heapSteady = steady.filter((x) => Number.isFinite(x.heap));
  return {
    base: steady[0]?.rss ?? NaN,
    maxRss: Math.max(...samples.map((s) => s.rss).filter(Number.isFinite)),
    end: samples[samples.length - 1]!.rss,
    slope: slopeMiBPerMillion(steady),
    heapSlope: slopeMiBPerMillion(heapSteady.map((x) => ({ frames: x.frames, rss: x.heap }))),
    heapStart: heapSteady[0]?.heap ?? NaN,
    heapEnd: samples[samples.length - 1]!.heap,
  };
}

/** The two tables of the run: the figures, and the server's memory over time. */
function report(row: ReturnType<typeof resultRow>, c: FuzzCounters, p: FuzzParams, decoded: number, crashed: string | null): void {
  const { bystanderMessage: msg, bystanderTyping: typing } = row;
  printTable(
    `fuzz: ${c.written.toLocaleString('en')} frames against one instance (${p.defaultLimits ? 'default limits' : 'rate limits raised'})`,
    ['metric', 'value'],
    [
      [
        'frames written (grammar-random / mutated / raw random)',
        `${c.written.toLocaleString('en')} (${c.grammar.toLocaleString('en')} / ${c.mutated.toLocaleString('en')} / ${c.random.toLocaleString('en')})`,
      ],
      ['frames decoded by the server (chat_frames_received_total)', Number.isFinite(decoded) ? decoded.toLocaleString('en') : '-'],
      ['frames/s written', row.framesPerSec.toLocaleString('en')],
      ['duration', `${fmt(row.seconds)} s`],
      ['connections opened (refused, cut as stuck)', `${c.connections.toLocaleString('en')} (${c.refused}, ${c.stuck})`],
      ['server crashes', `${row.crashes}${crashed ? ` (${crashed})` : ''}`],
      ['server healthy afterwards (/healthz)', row.healthyAfter ? 'yes' : 'NO'],
      [
        'server RSS: start / after warm-up / max / end',
        `${fmt(row.rssStartMiB)} / ${fmt(row.rssSteadyBaseMiB)} / ${fmt(row.rssMaxMiB)} / ${fmt(row.rssEndMiB)} MiB`,
      ],
      ['server RSS slope after warm-up', `${fmt(row.rssSlopeMiBPerMillionFrames, 2)} MiB per million frames`],
      [
        'server heap + external memory: after warm-up / end (slope)',
        `${fmt(row.heapAfterWarmupMiB)} / ${fmt(row.heapEndMiB)} MiB (${fmt(row.heapSlopeMiBPerMillionFrames, 2)} MiB per million frames)`,
      ],
      ['bystander message round trip p50 / p99 / max (n)', `${msg.p50} / ${msg.p99} / ${msg.max} ms (${msg.count})`],
      ['bystander typing round trip p50 / p99 / max (n)', `${typing.p50} / ${typing.p99} / ${typing.max} ms (${typing.count})`],
      ['bystanders connected throughout, errors', `${row.bystandersConnected ? 'yes' : 'NO'}, ${row.bystanderFailures.length}`],
      [
        'server ERROR answers by code',
        Object.entries(row.serverErrors)
          .map(([k, v]) => `${k} ${v.toLocaleString('en')}`)
          .join(', ') || '-',
      ],
    ],
  );
  // The first sample is taken before the first /metrics answer: it has no heap figure yet.
  printTable(
    'server memory over time',
    ['s', 'frames', 'RSS MiB', 'heap + external MiB'],
    row.rssSeries
      .filter((_, i, a) => i % Math.max(1, Math.ceil(a.length / 12)) === 0 || i === a.length - 1)
      .map(([t, fr, r, h]) => [t!, fr!.toLocaleString('en'), r!, Number.isFinite(h) ? h! : '-']),
  );
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
    const all = parseSamples(await metricsText(srv.baseUrl));
    const get = (name: string) => all.find((s) => s.name === name)?.value ?? NaN;
    return get('nodejs_heap_size_used_bytes') + get('nodejs_external_memory_bytes');
  } catch {
    return NaN;
  }
}
