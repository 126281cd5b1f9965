// Shared helpers of the load scenarios: flags, percentiles, progress lines, markdown tables, JSON result lines,
// a drift-free pacer, CPU accounting of the bench process and servers that are always stopped.
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type ServerProc, type StartOptions } from '../test/support/cluster.js';

/** Where JSON result lines go: bench/results, or BENCH_RESULTS_DIR (e.g. to keep smoke runs out of the report). */
export const RESULTS_DIR = process.env.BENCH_RESULTS_DIR || join(dirname(fileURLToPath(import.meta.url)), 'results');

// --- flags -------------------------------------------------------------------------------------

/** `--name value` and `--name=value` flags; a flag without a value is "true". */
export class Flags {
  private readonly values = new Map<string, string>();

  constructor(args: readonly string[], known: readonly string[]) {
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (!a.startsWith('--')) throw new Error(`unexpected argument ${a} (flags are --name value)`);
      const eq = a.indexOf('=');
      let name: string;
      let value: string;
      if (eq >= 0) {
        name = a.slice(2, eq);
        value = a.slice(eq + 1);
      } else {
        name = a.slice(2);
        const next = args[i + 1];
        if (next !== undefined && !next.startsWith('--')) {
          value = next;
          i++;
        } else value = 'true';
      }
      if (!known.includes(name)) throw new Error(`unknown flag --${name} (known: ${known.map((k) => `--${k}`).join(' ')})`);
      this.values.set(name, value);
    }
  }

  num(name: string, fallback: number, min = 0): number {
    const v = this.values.get(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, got ${v}`);
    return n;
  }

  int(name: string, fallback: number, min = 1): number {
    const n = this.num(name, fallback, min);
    if (!Number.isInteger(n)) throw new Error(`--${name} must be an integer`);
    return n;
  }

  list(name: string, fallback: number[], min = 1): number[] {
    const v = this.values.get(name);
    if (v === undefined) return fallback;
    const out = v.split(',').map((s) => Number(s.trim()));
    if (out.length === 0 || out.some((n) => !Number.isFinite(n) || n < min)) throw new Error(`--${name} must be a comma-separated list of numbers >= ${min}`);
    return out;
  }

  str(name: string, fallback: string): string {
    return this.values.get(name) ?? fallback;
  }
}

// --- statistics --------------------------------------------------------------------------------

export interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(values: readonly number[]): Summary {
  const s = Float64Array.from(values).sort();
  const arr = Array.from(s);
  let sum = 0;
  for (const v of arr) sum += v;
  return {
    n: arr.length,
    p50: percentile(arr, 50),
    p95: percentile(arr, 95),
    p99: percentile(arr, 99),
    max: arr.length ? arr[arr.length - 1]! : NaN,
    mean: arr.length ? sum / arr.length : NaN,
  };
}

export const round = (v: number, digits = 1): number => (Number.isFinite(v) ? Number(v.toFixed(digits)) : v);
export const fmt = (v: number, digits = 1): string => (Number.isFinite(v) ? v.toFixed(digits) : '-');

// --- output ------------------------------------------------------------------------------------

const started = performance.now();

/** A progress line: seconds since start, then the text. */
export function progress(text: string): void {
  process.stdout.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)}s] ${text}\n`);
}

export function markdownTable(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

export function printTable(title: string, headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): void {
  process.stdout.write(`\n### ${title}\n\n${markdownTable(headers, rows)}\n\n`);
}

export function environment(): Record<string, string | number> {
  const list = cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    loadAvg1m: Number(loadavg()[0]!.toFixed(2)),
  };
}

/** The command that ran this scenario, as a user would type it (recorded with the results). */
export function commandLine(scenario: string, args: readonly string[]): string {
  return `npm run bench -- ${[scenario, ...args].join(' ')}`;
}

/** An id shared by every result line of one run (the report takes the latest run of each scenario). */
export const RUN_ID = `${new Date().toISOString()}-${process.pid}`;

/** One JSON line per result row in bench/results/<scenario>.jsonl, each with the environment and parameters. */
export function appendResults(scenario: string, params: Record<string, unknown>, rows: ReadonlyArray<Record<string, unknown>>): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${scenario}.jsonl`);
  const env = environment();
  appendFileSync(file, rows.map((row) => JSON.stringify({ scenario, ...env, params, ...row })).join('\n') + '\n');
  progress(`${rows.length} result line(s) appended to ${file}`);
  return file;
}

// --- CPU of this process -----------------------------------------------------------------------

/** CPU used by the bench process since `start()`, in % of one core (100 = one core saturated). */
export class CpuMeter {
  private usage = process.cpuUsage();
  private at = performance.now();

  start(): void {
    this.usage = process.cpuUsage();
    this.at = performance.now();
  }

  percent(): number {
    const u = process.cpuUsage(this.usage);
    const wallUs = (performance.now() - this.at) * 1000;
    return wallUs > 0 ? ((u.user + u.system) / wallUs) * 100 : 0;
  }
}

/** The 1-minute load average as text, flagged when above the number of cores (other work shares the machine). */
export function loadText(): string {
  const l = loadavg()[0]!;
  return `load ${l.toFixed(1)}${l > cpus().length * 1.5 ? ' (machine busy with other work)' : ''}`;
}

/** A warning line when the bench process itself was near one full core (then it, not the server, may limit). */
export function cpuNote(percent: number): string {
  return percent >= 85 ? ` (bench process near one full core: the load generator may be the bottleneck)` : '';
}

// --- pacing ------------------------------------------------------------------------------------

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Calls `fire(i)` for i = 0.. at `ratePerSec` for `durationMs`, open loop and without drift: every tick
 * computes how many calls are due since the start and makes them in one small burst.
 */
export async function paced(ratePerSec: number, durationMs: number, fire: (i: number) => void, tickMs = 2): Promise<{ sent: number; elapsedMs: number }> {
  const t0 = performance.now();
  const total = Math.floor((ratePerSec * durationMs) / 1000);
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) * ratePerSec) / 1000) + 1);
    while (sent < due) fire(sent++);
    if (sent >= total) break;
    // Sleep until the next due time (at least one tick; setTimeout granularity is ~1 ms).
    const nextAt = t0 + (sent * 1000) / ratePerSec;
    await sleep(Math.max(tickMs, nextAt - performance.now()));
  }
  return { sent, elapsedMs: performance.now() - t0 };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// --- servers -----------------------------------------------------------------------------------

const running = new Set<ServerProc>();
let handlersInstalled = false;

/** Servers started by withServers and not stopped yet (their signal handler exits once they are stopped). */
export const runningServerCount = (): number => running.size;

function installSignalHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping ${running.size} server(s)\n`);
      void Promise.allSettled([...running].map((s) => s.kill())).then(() => process.exit(130));
    });
  }
}

/** Starts `n` server instances (all roles, MODE=cluster), runs `fn`, and always stops them (SIGTERM, then SIGKILL). */
export async function withServers<T>(n: number, name: string, fn: (servers: ServerProc[]) => Promise<T>, opts: StartOptions = {}): Promise<T> {
  installSignalHandlers();
  const servers: ServerProc[] = [];
  try {
    for (let i = 0; i < n; i++) {
      // MODE=cluster: the real PostgreSQL, Redis and Kafka (API.md; the embedded mode is the default).
      const s = await startServer({ ...opts, env: { MODE: 'cluster', ...opts.env }, instanceId: `bench-${name}-${process.pid}-${String.fromCharCode(97 + i)}` });
      servers.push(s);
      running.add(s);
      progress(`server ${s.instanceId} up on ${s.baseUrl} (log .stack/test-logs/${s.instanceId}.log)`);
    }
    return await fn(servers);
  } finally {
    await Promise.allSettled(
      servers.map(async (s) => {
        try {
          await s.stop();
        } catch {
          await s.kill();
        }
        running.delete(s);
      }),
    );
    if (servers.length) progress(`stopped ${servers.length} server(s)`);
  }
}

/** CPU seconds (user + system) a process used so far, from /proc (Linux); NaN elsewhere. */
export function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    // Fields after the command name "(...)": state is field 3; utime and stime are fields 14 and 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
const CLOCK_TICKS = 100;

/** CPU % (of one core) of the given server processes between two calls of the returned function. */
export function serverCpuMeter(servers: readonly ServerProc[]): () => number[] {
  let before = servers.map((s) => processCpuSeconds(s.proc.pid));
  let at = performance.now();
  return () => {
    const now = servers.map((s) => processCpuSeconds(s.proc.pid));
    const wall = (performance.now() - at) / 1000;
    const out = now.map((v, i) => ((v - before[i]!) / wall) * 100);
    before = now;
    at = performance.now();
    return out;
  };
}

/** Whole-machine CPU busy % (all cores, 100 = every core saturated) between calls, from /proc/stat; NaN elsewhere. */
export function systemCpuMeter(): () => number {
  const read = (): [number, number] => {
    try {
      const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
      const idle = (line[3] ?? 0) + (line[4] ?? 0);
      const total = line.reduce((a, b) => a + b, 0);
      return [total - idle, total];
    } catch {
      return [NaN, NaN];
    }
  };
  let [busy0, total0] = read();
  return () => {
    const [busy, total] = read();
    const pct = ((busy - busy0) / (total - total0)) * 100;
    busy0 = busy;
    total0 = total;
    return pct;
  };
}

/** Cumulative bucket counts (le -> count) of a Prometheus histogram, summed over the given servers' /metrics. */
export async function scrapeHistogram(baseUrls: readonly string[], name: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  await Promise.all(
    baseUrls.map(async (url) => {
      try {
        const text = await (await fetch(`${url}/metrics`)).text();
        const re = new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\S+)$`, 'gm');
        for (const m of text.matchAll(re)) {
          const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
          out.set(le, (out.get(le) ?? 0) + Number(m[2]));
        }
      } catch {
        // metrics unavailable: the quantile comes out NaN
      }
    }),
  );
  return out;
}

/** The q-quantile (0..1) of the observations between two scrapes, as the upper bound of its bucket (ms when scale=1000). */
export function histogramQuantile(before: Map<number, number>, after: Map<number, number>, q: number, scale = 1000): number {
  const les = [...after.keys()].sort((a, b) => a - b);
  const diff = les.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const total = diff[diff.length - 1] ?? 0;
  if (total <= 0) return NaN;
  const idx = diff.findIndex((c) => c >= q * total);
  return les[idx]! * scale;
}

/** "<= 20" style text for a bucket bound, ">5000" for the +Inf bucket. */
export function bucketText(v: number, lastFinite = 5000): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? '-' : `>${lastFinite}`;
  return `<=${v}`;
}

// --- foreign servers ---------------------------------------------------------------------------

/**
 * Members of the server's consumer groups whose client id is not one of `ours` (e.g. servers left running by
 * a test run): they take partitions of chat.messages and share the machine, so results must mention them.
 */
export async function foreignGroupMembers(ours: readonly string[], brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092'): Promise<string[]> {
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({ clientId: 'bench-probe', brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    const { groups } = await admin.describeGroups(['chat-persist', 'chat-broadcast', 'chat-notify', 'chat-receipts']);
    const ids = new Set<string>();
    for (const g of groups) for (const m of g.members) if (!ours.some((o) => m.clientId === `chat-${o}`)) ids.add(m.clientId);
    return [...ids].sort();
  } catch {
    return [];
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Prints a warning line when other servers share the consumer groups; returns their client ids. */
export async function warnForeignServers(servers: readonly ServerProc[]): Promise<string[]> {
  const foreign = await foreignGroupMembers(servers.map((s) => s.instanceId));
  if (foreign.length > 0) {
    progress(`WARNING: ${foreign.length} other server process(es) are in the chat consumer groups (${foreign.join(', ')}): they take partitions and CPU; figures are not from a quiet machine`);
  }
  return foreign;
}
