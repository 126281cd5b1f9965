// Makes `promtool`, `prometheus` and `amtool` available for the operations tests (test/ops/): finds them on
// PATH or in /usr/bin, otherwise installs Debian's `prometheus` (2.42 on bookworm) and `prometheus-alertmanager`
// packages (scripts/debian-tools.mjs: no service is started; the tests run their own Prometheus on a free port).
//
// Plain Node ESM so it runs before anything is compiled. Called by scripts/test.mjs (`npm test`) before
// vitest; `node scripts/promtool.mjs` does the same by hand and prints where the tools are.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToolError, ensureTools, locate } from './debian-tools.mjs';

export { ToolError as PromtoolError, locate };

const defaultLog = (msg) => console.log(`[promtool] ${msg}`);

function versionOf(bin) {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  return /version (\S+)/.exec(text)?.[1] ?? null;
}

/** Each tool the operations tests run, and the Debian package that ships it. */
export const TOOLS = Object.freeze([
  { tool: 'promtool', pkg: 'prometheus' },
  { tool: 'prometheus', pkg: 'prometheus' },
  { tool: 'amtool', pkg: 'prometheus-alertmanager' },
]);

/**
 * Returns { promtool, prometheus, amtool, version } — absolute paths of the binaries and Prometheus' version —
 * installing Debian's `prometheus` / `prometheus-alertmanager` packages for whichever is missing.
 * Throws PromtoolError (with apt's output) when they cannot be had.
 */
export function ensurePromtool({ log = defaultLog, env = process.env } = {}) {
  const found = ensureTools(TOOLS, { log, env });
  const version = versionOf(found.prometheus);
  log(`promtool ${found.promtool}, prometheus ${found.prometheus} (version ${version ?? 'unknown'}), amtool ${found.amtool}`);
  return { promtool: found.promtool, prometheus: found.prometheus, amtool: found.amtool, version };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    ensurePromtool();
  } catch (err) {
    console.error(`[promtool] ERROR: ${err instanceof ToolError ? err.message : (err?.stack ?? err)}`);
    process.exit(1);
  }
}
