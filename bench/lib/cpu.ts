// CPU accounting: the bench process itself, the server processes (/proc/<pid>/stat) and the whole machine.
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import type { ServerProc } from '../../test/support/cluster.js';

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
