// The load driver's parent: forks N worker processes (default: one per core), hands each its share of the
// clients, starts open-loop steps on a common clock, waits for deliveries to drain, and merges the workers'
// counters and HdrHistograms. Workers never outlive it (they exit when the IPC channel closes; the parent
// SIGKILLs the ones still running at exit).
import { setTimeout as sleep } from 'node:timers/promises';
import { fork, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeHistogram, mergeEncoded, summarizeHistogram, type LatencySummary } from './histogram.js';
import {
  epochNow,
  type ClientSpec,
  type ConnectOptions,
  type FromWorker,
  type HoldStatus,
  type StepCounts,
  type StepPlan,
  type StepStats,
  type ToWorker,
} from './ipc.js';
import { killOnExit } from './processes.js';

export interface DriverOptions {
  /** Worker processes; default the number of cores. */
  workers?: number;
}

/** Merged result of a connect command. */
export interface ConnectSummary {
  connected: number;
  failed: number;
  errors: Record<string, number>;
  /** ms: from the common start (storm) or from each socket's start, to CONNECTED (+ subscribed). */
  connect: LatencySummary;
  /** ms: socket start -> CONNECTED. */
  handshake: LatencySummary;
  elapsedMs: number;
}

/** Merged result of one step. */
export interface StepSummary {
  step: number;
  rate: number;
  rooms: number;
  windowSeconds: number;
  sent: number;
  sentInWindow: number;
  /** sentInWindow / window. */
  sentPerSec: number;
  /** Σ over subscriptions of the messages sent to their room. */
  expected: number;
  uniqueDeliveries: number;
  deliveriesInWindow: number;
  /** deliveriesInWindow / window. */
  deliveriesPerSec: number;
  /** Σ over subscriptions of (sent to the room − unique received), after the drain. */
  lost: number;
  duplicates: number;
  outOfOrder: number;
  subscriptions: number;
  subscriptionsWithLoss: number;
  late: number;
  malformed: number;
  receiptsOk: number;
  errors: Record<string, number>;
  latency: LatencySummary;
  sendLag: LatencySummary;
  receipt: LatencySummary;
  /** The merged latency histogram (µs, compressed base64), for later re-merging or plotting. */
  latencyHist: string;
  drainedMs: number;
  drained: boolean;
}

export interface StepHooks {
  /** Called at the start and the end of the measured window (e.g. CPU sampling). */
  onWindowStart?: () => void;
  onWindowEnd?: () => void;
  /** Called about every second while the step runs, with merged counters. */
  onProgress?: (p: { sent: number; unique: number; expected: number; phase: 'warmup' | 'measure' | 'drain' }) => void;
  /** Longest wait after the last send for every expected delivery. */
  drainMs: number;
}

interface Worker {
  index: number;
  proc: ChildProcess;
  pid: number;
  waiting: Map<FromWorker['type'], (m: FromWorker) => void>;
  last: StepCounts | null;
}

/** A module next to this one, with this module's extension (.ts under tsx, .js once compiled). */
function sibling(name: string): string {
  return fileURLToPath(new URL(`./${name}${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function addErrors(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

export class Driver {
  private constructor(private readonly workers: Worker[]) {}

  /** Forks the workers and waits until each is up. */
  static async start(opts: DriverOptions = {}): Promise<Driver> {
    const n = opts.workers ?? cpus().length;
    const script = sibling('worker');
    const workers = await Promise.all(
      Array.from({ length: n }, async (_, index) => {
        // execArgv is inherited: under tsx the worker gets the same TypeScript loader, compiled it runs as JS.
        const proc = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        killOnExit(proc);
        const w: Worker = { index, proc, pid: proc.pid!, waiting: new Map(), last: null };
        proc.on('message', (m: FromWorker) => {
          if (m.type === 'progress') {
            w.last = m.counts;
            return;
          }
          if (m.type === 'fatal') {
            process.stderr.write(`driver worker ${index} failed: ${m.error}\n`);
            for (const cb of w.waiting.values()) cb(m);
            return;
          }
          const cb = w.waiting.get(m.type);
          if (cb) {
            w.waiting.delete(m.type);
            cb(m);
          }
        });
        proc.on('exit', (code, signal) => {
          const m: FromWorker = { type: 'fatal', error: `exited (${code ?? signal})` };
          for (const cb of w.waiting.values()) cb(m);
          w.waiting.clear();
        });
        await waitReply(w, 'hello', 60_000);
        return w;
      }),
    );
    return new Driver(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Worker pids (for CPU accounting). */
  get pids(): number[] {
    return this.workers.map((w) => w.pid);
  }

  /** Opens the clients (each on its worker) and subscribes them; see ConnectOptions. */
  async connect(clients: readonly ClientSpec[], opts: ConnectOptions): Promise<ConnectSummary> {
    const t0 = performance.now();
    const shares = this.workers.map(() => [] as ClientSpec[]);
    for (const c of clients) shares[(c.worker ?? c.id) % this.workers.length]!.push(c);
    const results = await Promise.all(
      this.workers.map((w, i) =>
        request(
          w,
          { type: 'connect', clients: shares[i]!, opts },
          'connected',
          opts.timeoutMs + 120_000 + (shares[i]!.length * opts.timeoutMs) / opts.concurrency,
        ),
      ),
    );
    const errors: Record<string, number> = {};
    for (const r of results) addErrors(errors, r.result.errors);
    const connect = mergeEncoded(results.map((r) => r.result.connectHist));
    const handshake = mergeEncoded(results.map((r) => r.result.handshakeHist));
    const out: ConnectSummary = {
      connected: sum(results.map((r) => r.result.connected)),
      failed: sum(results.map((r) => r.result.failed)),
      errors,
      connect: summarizeHistogram(connect),
      handshake: summarizeHistogram(handshake),
      elapsedMs: performance.now() - t0,
    };
    connect.destroy();
    handshake.destroy();
    return out;
  }

  /**
   * Runs one open-loop step: every worker starts its rooms' schedules at the same epoch instant, the window
   * hooks fire at the measured window's bounds, then the parent waits (at most hooks.drainMs) until every
   * subscription has every message sent to its room, and collects.
   * @param subscribersPerRoom how many subscriptions each room index has (to know what to expect).
   */
  async step(plan: Omit<StepPlan, 'startAt'>, subscribersPerRoom: ReadonlyArray<number>, hooks: StepHooks): Promise<StepSummary> {
    const startAt = epochNow() + 500;
    const full: StepPlan = { ...plan, startAt };
    for (const w of this.workers) {
      w.last = null;
      post(w, { type: 'step', plan: full });
    }
    const windowStart = startAt + plan.warmupMs;
    const windowEnd = windowStart + plan.durationMs;
    const sendEnd = windowEnd;
    const expectedNow = () => {
      let sent = 0;
      let expected = 0;
      let unique = 0;
      for (const w of this.workers) {
        if (!w.last || w.last.step !== plan.step) continue;
        unique += w.last.uniqueDeliveries;
        for (const [room, n] of w.last.sentByRoom) {
          sent += n;
          expected += n * (subscribersPerRoom[room] ?? 0);
        }
      }
      return { sent, expected, unique };
    };
    // Window hooks on the common clock.
    await sleepUntil(windowStart);
    hooks.onWindowStart?.();
    let lastProgress = epochNow();
    while (epochNow() < windowEnd) {
      await sleepUntil(Math.min(windowEnd, epochNow() + 250));
      if (epochNow() - lastProgress >= 1000 && epochNow() < windowEnd) {
        lastProgress = epochNow();
        hooks.onProgress?.({ ...expectedNow(), phase: 'measure' });
      }
    }
    hooks.onWindowEnd?.();
    // Drain: until every worker reported its schedule over and every expected delivery arrived.
    const drainStart = epochNow();
    let drained = false;
    while (epochNow() - sendEnd < hooks.drainMs) {
      const e = expectedNow();
      if (e.unique >= e.expected && this.workers.every((w) => w.last?.step === plan.step && w.last.sendingDone)) {
        drained = true;
        break;
      }
      if (epochNow() - lastProgress >= 1000) {
        lastProgress = epochNow();
        hooks.onProgress?.({ ...e, phase: 'drain' });
      }
      await sleep(100);
    }
    const drainedMs = epochNow() - drainStart;
    const stats = await Promise.all(this.workers.map((w) => request(w, { type: 'collect', step: plan.step }, 'stats', 30_000).then((m) => m.stats)));
    return merge(plan, stats, subscribersPerRoom, drainedMs, drained);
  }

  /** Open connections, heart-beats and unexpected closes (for holds). */
  async status(): Promise<HoldStatus> {
    const all = await Promise.all(this.workers.map((w) => request(w, { type: 'status' }, 'status', 30_000).then((m) => m.status)));
    const errors: Record<string, number> = {};
    for (const s of all) addErrors(errors, s.errors);
    const open = all.filter((s) => s.open > 0);
    return {
      open: sum(all.map((s) => s.open)),
      closedUnexpectedly: sum(all.map((s) => s.closedUnexpectedly)),
      heartbeatsIn: sum(all.map((s) => s.heartbeatsIn)),
      minHeartbeatsIn: open.length ? Math.min(...open.map((s) => s.minHeartbeatsIn)) : 0,
      heartbeatsOut: sum(all.map((s) => s.heartbeatsOut)),
      serverHeartbeatMs: Math.max(0, ...all.map((s) => s.serverHeartbeatMs)),
      errors,
    };
  }

  /** Closes every client (the workers stay up). */
  async closeClients(): Promise<void> {
    await Promise.all(this.workers.map((w) => request(w, { type: 'close' }, 'closed', 60_000)));
  }

  /** Closes the clients and stops the workers (SIGKILL after 5 s). */
  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        if (w.proc.exitCode !== null || w.proc.signalCode !== null) return;
        const exited = new Promise<void>((r) => w.proc.once('exit', () => r()));
        post(w, { type: 'exit' });
        const t = setTimeout(() => w.proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }),
    );
  }
}

/** Starts a driver, runs fn, and always stops the driver. */
export async function withDriver<T>(opts: DriverOptions, fn: (d: Driver) => Promise<T>): Promise<T> {
  const d = await Driver.start(opts);
  try {
    return await fn(d);
  } finally {
    await d.stop();
  }
}

function post(w: Worker, m: ToWorker): void {
  if (w.proc.connected) w.proc.send(m);
}

function waitReply<T extends FromWorker['type']>(w: Worker, type: T, ms: number): Promise<Extract<FromWorker, { type: T }>> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      w.waiting.delete(type);
      reject(new Error(`driver worker ${w.index}: no ${type} within ${ms} ms`));
    }, ms);
    w.waiting.set(type, (m) => {
      clearTimeout(t);
      if (m.type === 'fatal') reject(new Error(`driver worker ${w.index}: ${m.error}`));
      else resolve(m as Extract<FromWorker, { type: T }>);
    });
  });
}

function request<T extends FromWorker['type']>(w: Worker, m: ToWorker, reply: T, ms: number): Promise<Extract<FromWorker, { type: T }>> {
  const p = waitReply(w, reply, ms);
  post(w, m);
  return p;
}

function merge(
  plan: Omit<StepPlan, 'startAt'>,
  stats: StepStats[],
  subscribersPerRoom: ReadonlyArray<number>,
  drainedMs: number,
  drained: boolean,
): StepSummary {
  const sentByRoom = new Map<number, number>();
  let sent = 0;
  let sentInWindow = 0;
  for (const s of stats)
    for (const [room, n, inWin] of s.sentByRoom) {
      sentByRoom.set(room, (sentByRoom.get(room) ?? 0) + n);
      sent += n;
      sentInWindow += inWin;
    }
  let lost = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  let subscriptions = 0;
  let withLoss = 0;
  for (const s of stats)
    for (const [room, unique, dup, ooo] of s.subscriptions) {
      subscriptions++;
      const missing = (sentByRoom.get(room) ?? 0) - unique;
      lost += Math.max(0, missing);
      if (missing > 0) withLoss++;
      duplicates += dup;
      outOfOrder += ooo;
    }
  const errors: Record<string, number> = {};
  for (const s of stats) addErrors(errors, s.errors);
  const windowSeconds = plan.durationMs / 1000;
  const latencyH = mergeEncoded(stats.map((s) => s.latencyHist));
  const sendLagH = mergeEncoded(stats.map((s) => s.sendLagHist));
  const receiptH = mergeEncoded(stats.map((s) => s.receiptHist));
  const deliveriesInWindow = sum(stats.map((s) => s.deliveriesInWindow));
  const out: StepSummary = {
    step: plan.step,
    rate: plan.rate,
    rooms: plan.rooms,
    windowSeconds,
    sent,
    sentInWindow,
    sentPerSec: sentInWindow / windowSeconds,
    expected: [...sentByRoom].reduce((a, [room, n]) => a + n * (subscribersPerRoom[room] ?? 0), 0),
    uniqueDeliveries: sum(stats.map((s) => s.uniqueDeliveries)),
    deliveriesInWindow,
    deliveriesPerSec: deliveriesInWindow / windowSeconds,
    lost,
    duplicates,
    outOfOrder,
    subscriptions,
    subscriptionsWithLoss: withLoss,
    late: sum(stats.map((s) => s.late)),
    malformed: sum(stats.map((s) => s.malformed)),
    receiptsOk: sum(stats.map((s) => s.receiptsOk)),
    errors,
    latency: summarizeHistogram(latencyH),
    sendLag: summarizeHistogram(sendLagH),
    receipt: summarizeHistogram(receiptH),
    latencyHist: '',
    drainedMs,
    drained,
  };
  out.latencyHist = encodeHistogram(latencyH);
  for (const h of [latencyH, sendLagH, receiptH]) h.destroy();
  return out;
}

const sleepUntil = (epoch: number) => sleep(Math.max(0, epoch - epochNow()));
