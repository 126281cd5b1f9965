#!/usr/bin/env node
// `npm test`: makes the real infrastructure available (scripts/stack-lib.mjs → PostgreSQL, Redis, Kafka),
// then runs the whole vitest suite against it. Never skips: if a service cannot be had, it fails (exit 1).
// First of all the lint step (scripts/lint.mjs: type-checked web client, typescript-eslint, formatter check).
// Extra arguments go to vitest: `npm test -- protocol`, `npm test -- -t "read receipts"`.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { StackError, stackUp } from './stack-lib.mjs';

const t0 = Date.now();
const secs = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

// --- lint (scripts/lint.mjs): before anything starts, so a finding fails the run in seconds -----------------
// SKIP_LINT=1 skips it (a fast loop over a few test files); CI never sets it.
if (process.env.SKIP_LINT !== '1') {
  const lint = spawnSync(process.execPath, [fileURLToPath(new URL('./lint.mjs', import.meta.url))], { stdio: 'inherit' });
  if (lint.status !== 0) {
    console.error('[test] failing: the lint step found problems (scripts/lint.mjs)');
    process.exit(1);
  }
}

try {
  const { config } = await stackUp({ log: (m) => console.log(`[stack] ${m}`) });
  // The suite's consumer groups begin at the topics' ends: records of earlier runs on a reused broker are skipped.
  const { startGroupsAtEnd } = await import('./test-groups.mjs');
  await startGroupsAtEnd({ brokers: config.kafkaBrokers, prefix: process.env.KAFKA_GROUP_PREFIX ?? '', log: (m) => console.log(`[stack] ${m}`) });
} catch (err) {
  console.error(`[test] ERROR: the real infrastructure is not available — ${err instanceof StackError ? err.message : err?.stack ?? err}`);
  console.error('[test] failing: the integration tests need real PostgreSQL, Redis and Kafka and are never skipped');
  process.exit(1);
}

// --- operations tools (scripts/promtool.mjs) --------------------------------------------------------------
// test/ops runs promtool, prometheus and amtool; they are installed here (Debian packages) when missing, and
// their absence fails the run like a missing service does.
{
  const { PromtoolError, ensurePromtool } = await import('./promtool.mjs');
  try {
    ensurePromtool({ log: (m) => console.log(`[promtool] ${m}`) });
  } catch (err) {
    console.error(`[test] ERROR: promtool/prometheus are not available — ${err instanceof PromtoolError ? err.message : err?.stack ?? err}`);
    console.error('[test] failing: the operations tests (test/ops) need them and are never skipped');
    process.exit(1);
  }
}
// --- end of operations tools ------------------------------------------------------------------------------

// The browser test (test/browser) drives Debian's Chromium; the README's `printf … | nc -q1` walkthrough is run
// by test/e2e/stomp-interop.test.ts with netcat. Installed here when missing, never skipped.
{
  const { ensureChromium } = await import('./chromium.mjs');
  const { NC, ensureTools } = await import('./debian-tools.mjs');
  try {
    ensureChromium();
    ensureTools([NC], { log: (m) => console.log(`[nc] ${m}`) });
  } catch (err) {
    console.error(`[test] ERROR: a tool the suite runs is not available — ${err?.message ?? err}`);
    console.error('[test] failing: the browser test and the README walkthrough test need it and are never skipped');
    process.exit(1);
  }
}

const env = { ...process.env, RUN_INTEGRATION: '1', NODE_ENV: 'test' };
// vitest runs on this same Node (node_modules/.bin/node, Node 24, when started by npm).
const vitest = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));
const args = [vitest, 'run', ...process.argv.slice(2)];
console.log(`[test] node ${process.version}: vitest run ${process.argv.slice(2).join(' ')}`);
const child = spawn(process.execPath, args, { stdio: 'inherit', env });

const forward = (sig) => () => child.kill(sig);
process.on('SIGINT', forward('SIGINT'));
process.on('SIGTERM', forward('SIGTERM'));

child.on('error', (e) => {
  console.error(`[test] could not run vitest: ${e.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  const rc = code ?? (signal ? 128 + ({ SIGINT: 2, SIGTERM: 15, SIGKILL: 9 }[signal] ?? 1) : 1);
  console.log(`[test] ${rc === 0 ? 'passed' : `FAILED (exit ${code ?? signal})`} — total ${secs()}`);
  process.exit(rc);
});
