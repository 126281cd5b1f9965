// CPU and memory of process groups from /proc (Linux): utime+stime deltas over a measured window, per group
// (app instances, Kafka, PostgreSQL, Redis, RabbitMQ, reference servers, the load driver), and the machine's
// total, so a result can say how many µs of CPU each group spent per delivered message.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (sysconf(_SC_CLK_TCK)); 100 on every common Linux. */
export const CLOCK_TICKS: number = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** What /proc tells about one process. */
export interface ProcInfo {
  pid: number;
  ppid: number;
  /** /proc/<pid>/comm: the executable name, at most 15 characters (e.g. `postgres`, `redis-server`, `beam.smp`). */
  comm: string;
  /** Ticks since boot at which the process started: with the pid, identifies it across pid reuse. */
  startTicks: number;
  /** Own user+system CPU, in ticks. */
  selfTicks: number;
  /** User+system CPU of its children that exited and were waited for, in ticks. */
  childTicks: number;
}

/** Reads /proc/<pid>/stat; null when the process is gone (or not on Linux). */
export function readProc(pid: number): ProcInfo | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid ...": comm may contain spaces and parentheses, so split after the last ')'.
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  const f = stat.slice(close + 2).split(' ');
  // f[0] is field 3 (state): field n is f[n - 3].
  return {
    pid,
    ppid: Number(f[1]),
    comm: stat.slice(open + 1, close),
    selfTicks: Number(f[11]) + Number(f[12]),
    childTicks: Number(f[13]) + Number(f[14]),
    startTicks: Number(f[19]),
  };
}

/** Every process visible in /proc. */
export function listProcs(): ProcInfo[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: ProcInfo[] = [];
  for (const n of names) {
    const c = n.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const p = readProc(Number(n));
    if (p) out.push(p);
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** Resident set size of a process in bytes (VmRSS), NaN when it is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Soft limit on open files of a process (`Max open files`), NaN when unknown. */
export function openFilesLimit(pid: number | 'self' = 'self'): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return m ? (m[1] === 'unlimited' ? Infinity : Number(m[1])) : NaN;
  } catch {
    return NaN;
  }
}

/**
 * A set of processes measured together. Either fixed pids (with their descendants, so a server launched through
 * a `sh -c` wrapper or with worker processes is counted whole) or a predicate on /proc entries (e.g. every
 * `postgres` process), evaluated at both ends of the window.
 */
export interface ProcessGroup {
  name: string;
  /** Root pids; every descendant of them is included too. */
  pids?: () => ReadonlyArray<number | undefined>;
  /** Matches processes by their /proc entry (used when `pids` is absent). */
  match?: (p: ProcInfo, cmd: () => string) => boolean;
}

export const groups = {
  pids: (name: string, pids: () => ReadonlyArray<number | undefined>): ProcessGroup => ({ name, pids }),
  /** The Kafka broker: the JVM whose command line runs `kafka.Kafka`. */
  kafka: (): ProcessGroup => ({ name: 'kafka', match: (p, cmd) => p.comm === 'java' && cmd().includes('kafka.Kafka') }),
  /** PostgreSQL: the postmaster and every backend and helper (all named `postgres`). */
  postgres: (): ProcessGroup => ({ name: 'postgres', match: (p) => p.comm === 'postgres' }),
  redis: (): ProcessGroup => ({ name: 'redis', match: (p) => p.comm === 'redis-server' }),
  /** RabbitMQ's Erlang VM. */
  rabbitmq: (): ProcessGroup => ({ name: 'rabbitmq', match: (p) => p.comm === 'beam.smp' }),
};

/** CPU of one group over a window. */
export interface GroupCpu {
  name: string;
  /** CPU seconds (user + system) spent in the window. */
  cpuSeconds: number;
  /** cpuSeconds / window, in % of one core (100 = one core busy all the time). */
  pctOfCore: number;
  /** Processes counted at the end of the window. */
  processes: number;
}

export interface CpuReport {
  windowSeconds: number;
  groups: GroupCpu[];
  /** Whole machine busy CPU seconds in the window (all cores, from /proc/stat). */
  machineSeconds: number;
  /** machineSeconds / window, in % of the whole machine (100 = every core busy). */
  machinePct: number;
  cores: number;
  /** Machine CPU not attributed to any group (other engineers' work, the kernel, this bench's own parent…). */
  otherSeconds: number;
}

interface Snapshot {
  at: number;
  machineBusyTicks: number;
  /** group -> "pid:start" -> ticks */
  groups: Map<string, Map<string, { self: number; children: number }>>;
}

function machineBusyTicks(): [busy: number, cores: number] {
  try {
    const lines = readFileSync('/proc/stat', 'utf8').split('\n');
    const v = lines[0]!.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
    const cores = lines.filter((l) => /^cpu\d+ /.test(l)).length;
    return [v.reduce((a, b) => a + b, 0) - v[3]! - v[4]!, cores];
  } catch {
    return [NaN, 1];
  }
}

/**
 * Samples process groups at the start and the end of a window. A process that appears during the window counts
 * with all its CPU; one that exits during the window loses what it used after the start, except for what its
 * parent (counted in the same group, e.g. the PostgreSQL postmaster) collects as children's time.
 * A process belongs to the first group that claims it.
 */
export class CpuSampler {
  private start: Snapshot | null = null;

  constructor(private readonly list: readonly ProcessGroup[]) {}

  private snapshot(): Snapshot {
    const procs = listProcs();
    const byParent = new Map<number, ProcInfo[]>();
    for (const p of procs) {
      const l = byParent.get(p.ppid);
      if (l) l.push(p);
      else byParent.set(p.ppid, [p]);
    }
    const byPid = new Map(procs.map((p) => [p.pid, p]));
    const claimed = new Set<number>();
    const out = new Map<string, Map<string, { self: number; children: number }>>();
    for (const g of this.list) {
      const members = new Map<string, { self: number; children: number }>();
      const add = (p: ProcInfo) => {
        if (claimed.has(p.pid)) return;
        claimed.add(p.pid);
        members.set(`${p.pid}:${p.startTicks}`, { self: p.selfTicks, children: p.childTicks });
      };
      if (g.pids) {
        const stack = g.pids().filter((x): x is number => x !== undefined);
        while (stack.length) {
          const pid = stack.pop()!;
          const p = byPid.get(pid);
          if (!p) continue;
          add(p);
          for (const c of byParent.get(pid) ?? []) stack.push(c.pid);
        }
      } else if (g.match) {
        for (const p of procs) if (!claimed.has(p.pid) && g.match(p, () => cmdline(p.pid))) add(p);
      }
      out.set(g.name, members);
    }
    return { at: performance.now(), machineBusyTicks: machineBusyTicks()[0], groups: out };
  }

  /** Starts the window. */
  begin(): void {
    this.start = this.snapshot();
  }

  /** Ends the window and returns the CPU per group. */
  end(): CpuReport {
    const start = this.start ?? this.snapshot();
    const end = this.snapshot();
    const windowSeconds = (end.at - start.at) / 1000;
    const [, cores] = machineBusyTicks();
    const result: GroupCpu[] = [];
    for (const g of this.list) {
      const a = start.groups.get(g.name) ?? new Map();
      const b = end.groups.get(g.name)!;
      let ticks = 0;
      for (const [key, v] of b) {
        const before = a.get(key);
        ticks += v.self - (before?.self ?? 0) + (before ? v.children - before.children : 0);
      }
      const cpuSeconds = ticks / CLOCK_TICKS;
      result.push({ name: g.name, cpuSeconds, pctOfCore: windowSeconds > 0 ? (cpuSeconds / windowSeconds) * 100 : NaN, processes: b.size });
    }
    const machineSeconds = (end.machineBusyTicks - start.machineBusyTicks) / CLOCK_TICKS;
    return {
      windowSeconds,
      groups: result,
      machineSeconds,
      machinePct: windowSeconds > 0 ? (machineSeconds / (windowSeconds * cores)) * 100 : NaN,
      cores,
      otherSeconds: machineSeconds - result.reduce((s, g) => s + g.cpuSeconds, 0),
    };
  }
}

/** µs of CPU per delivered message for each group (NaN without deliveries). */
export function cpuPerDelivery(report: CpuReport, deliveries: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const g of report.groups) out[g.name] = deliveries > 0 ? (g.cpuSeconds * 1e6) / deliveries : NaN;
  out.machine = deliveries > 0 ? (report.machineSeconds * 1e6) / deliveries : NaN;
  return out;
}

/** Sum of the RSS of the given pids and all their descendants, in bytes. */
export function treeRssBytes(pids: ReadonlyArray<number | undefined>): number {
  const procs = listProcs();
  const byParent = new Map<number, number[]>();
  for (const p of procs) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p.pid]);
  let total = 0;
  const seen = new Set<number>();
  const stack = pids.filter((x): x is number => x !== undefined);
  while (stack.length) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const r = rssBytes(pid);
    if (Number.isFinite(r)) total += r;
    stack.push(...(byParent.get(pid) ?? []));
  }
  return total;
}
