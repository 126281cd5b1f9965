// What the scenarios print and record: progress lines, markdown tables, the environment, JSON result lines.
import { appendFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where JSON result lines go: bench/results, or BENCH_RESULTS_DIR (e.g. to keep smoke runs out of the report). */
export const RESULTS_DIR = process.env.BENCH_RESULTS_DIR || join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

export const round = (v: number, digits = 1): number => (Number.isFinite(v) ? Number(v.toFixed(digits)) : v);
export const fmt = (v: number, digits = 1): string => (Number.isFinite(v) ? v.toFixed(digits) : '-');

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
