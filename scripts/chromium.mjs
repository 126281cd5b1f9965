// Makes Debian's Chromium available for the browser tests: installs the `chromium` package with apt-get when
// /usr/bin/chromium is missing, printing what it does, and throws (exit 1 from the command line) when it cannot.
// `npx playwright install` cannot work here (it downloads a browser build of its own): we drive Debian's build.
//
//   node scripts/chromium.mjs          # ensure it is installed; prints the path and version
//   import { ensureChromium } from './scripts/chromium.mjs'; const path = ensureChromium();
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ensureTools } from './debian-tools.mjs';

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

function version(path) {
  return execFileSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000 }).trim();
}

/**
 * Returns the path of a working Debian Chromium, installing the `chromium` package first when it is missing.
 * Synchronous on purpose: a test's setup calls it before launching anything. Throws with a clear message when
 * Chromium cannot be had (no apt-get, not root, package unavailable, binary not runnable).
 */
export function ensureChromium() {
  ensureTools([{ tool: 'chromium', pkg: 'chromium' }], { log, paths: { chromium: CHROMIUM_PATH } });
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
