// Where a server's CPU goes, from V8 CPU profiles (`--cpu-prof`) of a bench run: self time by library and by our
// folder, socket writes attributed to the library that wrote (ws, kafkajs, ioredis, pg), for one or more profile
// folders side by side (e.g. one instance against two). Each folder's main-thread profiles (one per server
// process) are summed over the steady part of the load: the longest stretch of seconds busier than half the load's
// level (the 90th percentile of the busy seconds), less `--trim` seconds at each end. Figures are shares of the busy
// samples, or µs per delivery when --app-us gives the app CPU per delivery the bench measured for each folder.
//
//   SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p1" npm run bench -- fanout --instances 1 --rates 1000
//   SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p2" npm run bench -- fanout --instances 2 --rates 1000
//   npm run bench -- profile --dirs /tmp/p1,/tmp/p2 [--app-us 78.8,110.5] [--trim 2] [--top 30]
//
//   --app-us: the app CPU per delivery the bench measured (from /proc) for each folder; the profile's shares are
//             scaled to it (a sampling profiler on a busy machine over-counts time the process was not running).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Flags, fmt, printTable, progress } from './lib.js';

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const WRITES = /^(writev|writeBuffer|writeUtf8String|writeLatin1String|writeAsciiString)$/;

/** The library or our folder a frame belongs to; null for Node's internals and native frames. */
function owner(url: string): string | null {
  const lib = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (lib) return lib[1]!.replace(/^pg-(protocol|pool)$/, 'pg');
  const ours = /dist\/(src\/[\w-]+|protocol)/.exec(url);
  return ours ? `ours: ${ours[1]}` : null;
}

/** Busy samples per category over the profile's steady window. */
export function categorize(p: CpuProfile, trimS: number): { counts: Map<string, number>; busy: number; windowS: number } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const times: number[] = [];
  let t = p.startTime;
  for (const d of p.timeDeltas) times.push((t += d));
  const idle = (i: number) => byId.get(p.samples[i]!)!.callFrame.functionName === '(idle)';
  const perSecond = new Map<number, number>();
  times.forEach((at, i) => {
    if (idle(i)) return;
    const second = Math.floor((at - p.startTime) / 1e6);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  });
  // The load's level: the 90th percentile of the busy seconds, not the busiest one, which at moderate rates is the
  // server's start-up (migrations, JIT): twice the steady level at 250 msgs/s, so no steady second passed half of it.
  const levels = [...perSecond.values()].sort((a, b) => a - b);
  const level = levels[Math.floor((levels.length - 1) * 0.9)]!;
  let best = [0, -1];
  let start = -1;
  const last = Math.max(...perSecond.keys());
  for (let s = 0; s <= last + 1; s++) {
    const hot = (perSecond.get(s) ?? 0) > level / 2;
    if (hot && start < 0) start = s;
    if (!hot && start >= 0) {
      if (s - 1 - start > best[1]! - best[0]!) best = [start, s - 1];
      start = -1;
    }
  }
  const [from, to] = [best[0]! + trimS, best[1]! - trimS];
  const counts = new Map<string, number>();
  let busy = 0;
  times.forEach((at, i) => {
    const sec = (at - p.startTime) / 1e6;
    if (sec < from || sec >= to + 1 || idle(i)) return;
    const node = byId.get(p.samples[i]!)!;
    busy++;
    const key = category(node, byId, parent);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  });
  return { counts, busy, windowS: to + 1 - from };
}

function category(node: ProfileNode, byId: Map<number, ProfileNode>, parent: Map<number, number>): string {
  const { functionName: fn, url } = node.callFrame;
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return 'V8 / native (program)';
  const own = owner(url);
  if (own) return own;
  // Native and Node-internal frames: the nearest caller that is a library or ours.
  let up: ProfileNode | undefined = node;
  let who: string | null = null;
  while (up && parent.has(up.id) && !who) {
    up = byId.get(parent.get(up.id)!);
    who = up ? owner(up.callFrame.url) : null;
  }
  if (WRITES.test(fn)) return `socket writes by ${who ?? 'node'}`;
  return `node internals for ${who ?? 'timers / other'}`;
}

export async function run(args: string[]): Promise<void> {
  const f = new Flags(args, ['dirs', 'app-us', 'trim', 'top']);
  const dirs = f.str('dirs', '').split(',').filter(Boolean);
  if (!dirs.length) throw new Error('--dirs: one or more folders of .cpuprofile files (comma-separated)');
  const appUs = f.str('app-us', '').split(',').filter(Boolean).map(Number);
  const trimS = f.num('trim', 2);
  const results = dirs.map((dir) => {
    // Main threads only: `.0.` in Node's file name (worker threads have their own thread number).
    const files = readdirSync(dir).filter((n) => /\.0\.\d+\.cpuprofile$/.test(n));
    if (!files.length) throw new Error(`${dir}: no main-thread .cpuprofile files`);
    const counts = new Map<string, number>();
    let busy = 0;
    for (const file of files) {
      const r = categorize(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile, trimS);
      progress(`${dir}/${file}: ${r.busy} busy samples over a ${r.windowS} s steady window`);
      busy += r.busy;
      for (const [k, v] of r.counts) counts.set(k, (counts.get(k) ?? 0) + v);
    }
    return { dir, counts, busy, processes: files.length };
  });
  const keys = [...new Set(results.flatMap((r) => [...r.counts.keys()]))];
  const share = (r: (typeof results)[number], k: string) => (r.counts.get(k) ?? 0) / r.busy;
  keys.sort((a, b) => share(results.at(-1)!, b) - share(results.at(-1)!, a));
  const cell = (r: (typeof results)[number], i: number, k: string) =>
    appUs[i] ? `${fmt(share(r, k) * appUs[i], 1)} µs (${fmt(share(r, k) * 100, 1)} %)` : `${fmt(share(r, k) * 100, 1)} %`;
  printTable(
    `self CPU by library / our folder${appUs.length ? ', scaled to the measured app µs per delivery' : ' (shares of busy samples)'}`,
    ['where', ...results.map((r) => `${r.dir} (${r.processes} process${r.processes > 1 ? 'es' : ''})`)],
    keys.slice(0, f.int('top', 30)).map((k) => [k, ...results.map((r, i) => cell(r, i, k))]),
  );
}
