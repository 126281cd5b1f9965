// Reading bench/results/<scenario>.jsonl: the lines of the latest run of a scenario (lines share params.runId).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One JSON result line: environment (lib.ts environment()), params, then the scenario's row fields. */
export interface ResultLine {
  scenario: string;
  date: string;
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  memGiB?: number;
  kernel?: string;
  loadAvg1m: number;
  params: Record<string, unknown> & { command?: string; runId?: string };
  [field: string]: unknown;
}

/** Lines of the most recent run of `scenario` (by the date of its lines), or [] when there is none. */
export function latestRun(dir: string, scenario: string): ResultLine[] {
  let best: ResultLine[] = [];
  for (const lines of runsOf(dir, scenario)) if (!best.length || lines[0]!.date > best[0]!.date) best = lines;
  return best;
}

/**
 * The most recent run of `scenario` for each value of `params[param]` (e.g. the idle bench over WebSocket and over
 * TCP), their lines concatenated in the order of those values.
 */
export function latestRunPer(dir: string, scenario: string, param: string): ResultLine[] {
  const best = new Map<string, ResultLine[]>();
  for (const lines of runsOf(dir, scenario)) {
    const key = String(lines[0]!.params[param]);
    const prev = best.get(key);
    if (!prev || lines[0]!.date > prev[0]!.date) best.set(key, lines);
  }
  return [...best.keys()].sort().flatMap((k) => best.get(k)!);
}

/** The last `n` runs of `scenario`, newest first, each as its lines. */
export function latestRuns(dir: string, scenario: string, n: number): ResultLine[][] {
  return runsOf(dir, scenario)
    .sort((a, b) => (a[0]!.date < b[0]!.date ? 1 : a[0]!.date > b[0]!.date ? -1 : 0))
    .slice(0, n);
}

/** Every run of `scenario` that has a runId, each as its lines. */
function runsOf(dir: string, scenario: string): ResultLine[][] {
  const file = join(dir, `${scenario}.jsonl`);
  if (!existsSync(file)) return [];
  const runs = new Map<string, ResultLine[]>();
  for (const text of readFileSync(file, 'utf8').split('\n')) {
    if (!text.trim()) continue;
    let line: ResultLine;
    try {
      line = JSON.parse(text) as ResultLine;
    } catch {
      continue;
    }
    // Lines written before the load driver (no runId) have another shape: skipped.
    const id = line.params?.runId;
    if (typeof id !== 'string') continue;
    const list = runs.get(id);
    if (list) list.push(line);
    else runs.set(id, [line]);
  }
  return [...runs.values()];
}
