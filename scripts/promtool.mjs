// Makes `promtool`, `prometheus` and `amtool` available for the operations tests (test/ops/): finds them on
// PATH or in /usr/bin, otherwise installs Debian's `prometheus` (2.42 on bookworm) and `prometheus-alertmanager`
// packages with apt-get.
//
// Plain Node ESM so it runs before anything is compiled. Called by scripts/test.mjs (`npm test`) before
// vitest; `node scripts/promtool.mjs` does the same by hand and prints where the tools are.
//
// The packages' maintainer scripts would start services on :9090 / :9093; the install runs with a
// policy-rc.d that forbids starting services (Debian's documented switch, exit 101), so nothing is started.
// The tests run their own Prometheus on a free port with their own data directory.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const POLICY_RC_D = '/usr/sbin/policy-rc.d';

export class PromtoolError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PromtoolError';
  }
}

const defaultLog = (msg) => console.log(`[promtool] ${msg}`);

function executable(p) {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Absolute path of `cmd` on PATH, then in /usr/bin and /usr/local/bin; null when absent. */
export function locate(cmd, env = process.env) {
  const dirs = [...(env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    if (executable(p)) return p;
  }
  return null;
}

function versionOf(bin) {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  return /version (\S+)/.exec(text)?.[1] ?? null;
}

function aptGet(args, log) {
  const cmd = ['apt-get', '-o', 'DPkg::Lock::Timeout=180', ...args];
  log(`$ ${cmd.join(' ')}`);
  const r = spawnSync(cmd[0], cmd.slice(1), {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: 15 * 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw new PromtoolError(`apt-get could not run: ${r.error.message}`);
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  for (const line of out.split('\n').slice(-6)) if (line.trim()) log(`  ${line}`);
  if (r.status !== 0) throw new PromtoolError(`apt-get ${args.join(' ')} failed (exit ${r.status ?? r.signal}):\n${out.split('\n').slice(-30).join('\n')}`);
  return out;
}

/** Runs fn with a policy-rc.d that forbids starting services; an existing one that does not is set aside meanwhile. */
function withServicesBlocked(fn, log) {
  const existing = fs.existsSync(POLICY_RC_D) ? fs.readFileSync(POLICY_RC_D, 'utf8') : null;
  if (existing !== null && /^\s*exit 101\s*$/m.test(existing)) {
    log(`${POLICY_RC_D} already forbids starting services`);
    return fn();
  }
  fs.writeFileSync(POLICY_RC_D, '#!/bin/sh\n# written by scripts/promtool.mjs during an install: start no service\nexit 101\n', { mode: 0o755 });
  try {
    return fn();
  } finally {
    if (existing === null) fs.rmSync(POLICY_RC_D, { force: true });
    else fs.writeFileSync(POLICY_RC_D, existing, { mode: 0o755 });
  }
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
  const find = () => Object.fromEntries(TOOLS.map(({ tool }) => [tool, locate(tool, env)]));
  let found = find();
  const missing = TOOLS.filter(({ tool }) => !found[tool]);
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))];
    if (process.platform !== 'linux' || !locate('apt-get', env)) {
      throw new PromtoolError(`${missing.map((m) => m.tool).join(', ')} not installed and apt-get is not available: install Prometheus 2.x and Alertmanager (${pkgs.join(', ')})`);
    }
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      throw new PromtoolError(`${missing.map((m) => m.tool).join(', ')} not installed; run \`sudo apt-get install --no-install-recommends ${pkgs.join(' ')}\` (root is needed)`);
    }
    log(`${missing.map((m) => m.tool).join(', ')} not found; installing Debian's ${pkgs.join(', ')} (no service is started)`);
    const t0 = Date.now();
    withServicesBlocked(() => {
      try {
        aptGet(['install', '-y', '--no-install-recommends', ...pkgs], log);
      } catch (first) {
        // A fresh machine has no package lists yet (or stale ones): update once, then retry.
        log(`install failed (${first.message.split('\n')[0]}); running apt-get update and retrying`);
        aptGet(['update'], log);
        aptGet(['install', '-y', '--no-install-recommends', ...pkgs], log);
      }
    }, log);
    found = find();
    const still = TOOLS.filter(({ tool }) => !found[tool]).map((m) => m.tool);
    if (still.length > 0) throw new PromtoolError(`installed ${pkgs.join(', ')} but ${still.join(', ')} still missing`);
    log(`installed ${pkgs.join(', ')} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const version = versionOf(found.prometheus);
  log(`promtool ${found.promtool}, prometheus ${found.prometheus} (version ${version ?? 'unknown'}), amtool ${found.amtool}`);
  return { promtool: found.promtool, prometheus: found.prometheus, amtool: found.amtool, version };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    ensurePromtool();
  } catch (err) {
    console.error(`[promtool] ERROR: ${err instanceof PromtoolError ? err.message : (err?.stack ?? err)}`);
    process.exit(1);
  }
}
