// Makes Debian's Chromium available for the browser tests: installs the `chromium` package with apt-get when
// /usr/bin/chromium is missing, printing what it does, and throws (exit 1 from the command line) when it cannot.
// `npx playwright install` cannot work here (it downloads a browser build of its own): we drive Debian's build.
//
//   node scripts/chromium.mjs          # ensure it is installed; prints the path and version
//   import { ensureChromium } from './scripts/chromium.mjs'; const path = ensureChromium();
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Flags for a headless Chromium on a machine without a display, sandbox user namespace or open network.
 * Without the background-networking flags Chromium keeps dialling Google services through a closed network.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

function log(line) {
  process.stderr.write(`[chromium] ${line}\n`);
}

function run(cmd, args, what) {
  log(`${what}: ${cmd} ${args.join(' ')}`);
  const started = Date.now();
  const r = spawnSync(cmd, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.error) throw new Error(`${what} failed to start: ${r.error.message}`);
  log(`${what}: exit ${r.status} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return r.status === 0;
}

function version(path) {
  return execFileSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000 }).trim();
}

/**
 * Returns the path of a working Debian Chromium, installing the `chromium` package first when it is missing.
 * Synchronous on purpose: a test's setup calls it before launching anything. Throws with a clear message when
 * Chromium cannot be had (no apt-get, not root, package unavailable, binary not runnable).
 */
export function ensureChromium() {
  if (!existsSync(CHROMIUM_PATH)) {
    log(`${CHROMIUM_PATH} is missing: installing Debian's chromium package (a few minutes the first time)`);
    if (!existsSync('/usr/bin/apt-get')) {
      throw new Error(`${CHROMIUM_PATH} is missing and there is no apt-get to install it: install Debian's "chromium" package`);
    }
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      throw new Error(`${CHROMIUM_PATH} is missing and installing it needs root: run "apt-get install chromium" as root`);
    }
    // Wait for another apt run (e.g. a parallel test process) instead of failing on its lock.
    const lock = ['-o', 'DPkg::Lock::Timeout=600'];
    const install = ['install', '-y', '--no-install-recommends', ...lock, 'chromium'];
    let ok = run('apt-get', ['-q', ...install], 'apt-get install chromium');
    if (!ok) {
      // The package lists may be missing or stale (a fresh machine): refresh them once and retry.
      if (!run('apt-get', ['-q', ...lock, 'update'], 'apt-get update')) {
        throw new Error('apt-get update failed: cannot install chromium (see the output above)');
      }
      ok = run('apt-get', ['-q', ...install], 'apt-get install chromium (after update)');
    }
    if (!ok || !existsSync(CHROMIUM_PATH)) {
      throw new Error(`apt-get could not install chromium (${CHROMIUM_PATH} still missing; see the output above)`);
    }
  }
  let v;
  try {
    v = version(CHROMIUM_PATH);
  } catch (err) {
    throw new Error(`${CHROMIUM_PATH} exists but does not run: ${err.message}`);
  }
  log(`ready: ${CHROMIUM_PATH} (${v})`);
  return CHROMIUM_PATH;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    console.log(ensureChromium());
  } catch (err) {
    console.error(`[chromium] FAILED: ${err.message}`);
    process.exit(1);
  }
}
