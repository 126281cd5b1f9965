// Tools the test suite runs that npm cannot install (promtool/prometheus/amtool, Chromium, nc): found on PATH,
// otherwise installed from Debian's packages with apt-get, with what it does printed. Never skipped: a tool that
// cannot be had throws ToolError, and `npm test` fails like it does for a missing service.
//
// Packages' maintainer scripts may start services (prometheus on :9090, alertmanager on :9093); installs run
// with a policy-rc.d that forbids starting services (Debian's documented switch, exit 101), so nothing starts.
//
// Plain Node ESM so it runs before anything is compiled.
//   node scripts/debian-tools.mjs nc:netcat-openbsd   # ensure tool `nc` (package netcat-openbsd); prints its path
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const POLICY_RC_D = '/usr/sbin/policy-rc.d';

export class ToolError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ToolError';
  }
}

/** The netcat the README's `printf … | nc -q1` walkthrough uses (and its test runs). */
export const NC = Object.freeze({ tool: 'nc', pkg: 'netcat-openbsd' });

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

function aptGet(args, log) {
  // Waits for another apt run (a parallel install) instead of failing on its lock.
  const cmd = ['apt-get', '-q', '-o', 'DPkg::Lock::Timeout=600', ...args];
  log(`$ ${cmd.join(' ')}`);
  const r = spawnSync(cmd[0], cmd.slice(1), {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: 15 * 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw new ToolError(`apt-get could not run: ${r.error.message}`);
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  for (const line of out.split('\n').slice(-6)) if (line.trim()) log(`  ${line}`);
  if (r.status !== 0) throw new ToolError(`apt-get ${args.join(' ')} failed (exit ${r.status ?? r.signal}):\n${out.split('\n').slice(-30).join('\n')}`);
  return out;
}

/** Runs fn with a policy-rc.d that forbids starting services; an existing one that does not is set aside meanwhile. */
function withServicesBlocked(fn, log) {
  const existing = fs.existsSync(POLICY_RC_D) ? fs.readFileSync(POLICY_RC_D, 'utf8') : null;
  if (existing !== null && /^\s*exit 101\s*$/m.test(existing)) {
    log(`${POLICY_RC_D} already forbids starting services`);
    return fn();
  }
  fs.writeFileSync(POLICY_RC_D, '#!/bin/sh\n# written by scripts/debian-tools.mjs during an install: start no service\nexit 101\n', { mode: 0o755 });
  try {
    return fn();
  } finally {
    if (existing === null) fs.rmSync(POLICY_RC_D, { force: true });
    else fs.writeFileSync(POLICY_RC_D, existing, { mode: 0o755 });
  }
}

/** Installs Debian packages (no recommends, no service started); refreshes the package lists once if needed. */
export function aptInstall(pkgs, { log }) {
  const install = ['install', '-y', '--no-install-recommends', ...pkgs];
  withServicesBlocked(() => {
    try {
      aptGet(install, log);
    } catch (first) {
      // A fresh machine has no package lists yet (or stale ones): update once, then retry.
      log(`install failed (${first.message.split('\n')[0]}); running apt-get update and retrying`);
      aptGet(['update'], log);
      aptGet(install, log);
    }
  }, log);
}

/**
 * Returns { [tool]: absolute path } for each { tool, pkg }, installing the packages of the missing ones.
 * `paths` (tool → path) names a fixed location to check instead of PATH (Chromium's /usr/bin/chromium).
 */
export function ensureTools(tools, { log, env = process.env, paths = {} }) {
  const find = () => Object.fromEntries(tools.map(({ tool }) => [tool, paths[tool] ? (executable(paths[tool]) ? paths[tool] : null) : locate(tool, env)]));
  let found = find();
  const missing = tools.filter(({ tool }) => !found[tool]);
  if (missing.length === 0) return found;
  const names = missing.map((m) => m.tool).join(', ');
  const pkgs = [...new Set(missing.map((m) => m.pkg))];
  if (process.platform !== 'linux' || !locate('apt-get', env)) {
    throw new ToolError(`${names} not installed and apt-get is not available: install ${pkgs.join(', ')}`);
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new ToolError(`${names} not installed; run \`sudo apt-get install --no-install-recommends ${pkgs.join(' ')}\` (root is needed)`);
  }
  log(`${names} not found; installing Debian's ${pkgs.join(', ')} (no service is started)`);
  const t0 = Date.now();
  aptInstall(pkgs, { log });
  found = find();
  const still = tools.filter(({ tool }) => !found[tool]).map((m) => m.tool);
  if (still.length > 0) throw new ToolError(`installed ${pkgs.join(', ')} but ${still.join(', ')} still missing`);
  log(`installed ${pkgs.join(', ')} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return found;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const tools = process.argv.slice(2).map((a) => {
      const [tool, pkg] = a.split(':');
      return { tool, pkg: pkg ?? tool };
    });
    const found = ensureTools(tools, { log: (m) => console.error(`[debian-tools] ${m}`) });
    for (const [tool, p] of Object.entries(found)) console.log(`${tool} ${p}`);
  } catch (err) {
    console.error(`[debian-tools] ERROR: ${err instanceof ToolError ? err.message : (err?.stack ?? err)}`);
    process.exit(1);
  }
}
