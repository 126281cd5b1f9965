#!/usr/bin/env node
// `npm test`: makes the real infrastructure available (scripts/stack-lib.mjs → PostgreSQL, Redis, Kafka),
// then runs the whole vitest suite against it. Never skips: if a service cannot be had, it fails (exit 1).
// First of all the lint step (scripts/lint.mjs: type-checked web client, typescript-eslint, formatter check).
// Extra arguments go to vitest: `npm test -- protocol`, `npm test -- -t "read receipts"`. The whole suite (no
// arguments) also runs the Kafka-facing files against Kafka 3.9 (see legacyKafkaRun).
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
  console.error(`[test] ERROR: the real infrastructure is not available — ${err instanceof StackError ? err.message : (err?.stack ?? err)}`);
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
    console.error(`[test] ERROR: promtool/prometheus are not available — ${err instanceof PromtoolError ? err.message : (err?.stack ?? err)}`);
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
let child = null;
const forward = (sig) => () => child?.kill(sig);
process.on('SIGINT', forward('SIGINT'));
process.on('SIGTERM', forward('SIGTERM'));

/** Runs vitest with these arguments and environment; resolves its exit status. */
function runVitest(args, runEnv) {
  console.log(`[test] node ${process.version}: vitest run ${args.join(' ')}`);
  return new Promise((resolve) => {
    child = spawn(process.execPath, [vitest, 'run', ...args], { stdio: 'inherit', env: runEnv });
    child.on('error', (e) => {
      console.error(`[test] could not run vitest: ${e.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + ({ SIGINT: 2, SIGTERM: 15, SIGKILL: 9 }[signal] ?? 1) : 1)));
  });
}

// --- the older Kafka line ----------------------------------------------------------------------------------
// The default broker is Kafka 4.4; the suites that talk to Kafka run again against Kafka 3.9 (a broker of their own
// on 127.0.0.1:9192, started empty and stopped afterwards), so the line users may still run keeps working.
// Part of the whole suite (`npm test` with no arguments); `npm test -- --kafka-legacy-only` runs just this part.
const LEGACY_FILES = [
  'test/integration/kafka-transactions.test.ts',
  'test/contract/message-log.test.ts',
  'test/contract/dead-letters.test.ts',
  'test/e2e/ordering-two-instances.test.ts',
  'test/e2e/consumer-recovery.test.ts',
  'test/e2e/dead-letter.test.ts',
];

async function legacyKafkaRun() {
  const { startKafkaNodes, stopKafkaNodes } = await import('./stack/kafka-cluster.mjs');
  const { LEGACY_KAFKA_VERSION } = await import('./stack/kafka-node.mjs');
  const ports = [9192];
  const log = (m) => console.log(`[kafka ${LEGACY_KAFKA_VERSION}] ${m}`);
  let brokers;
  try {
    ({ brokers } = await startKafkaNodes({ ports, version: LEGACY_KAFKA_VERSION, fresh: true, log }));
  } catch (err) {
    console.error(`[test] ERROR: Kafka ${LEGACY_KAFKA_VERSION} could not be started — ${err?.message ?? err}`);
    return 1;
  }
  try {
    return await runVitest(LEGACY_FILES, {
      ...env,
      KAFKA_BROKERS: brokers.join(','),
      KAFKA_VERSION: LEGACY_KAFKA_VERSION,
      KAFKA_GROUP_PREFIX: `${env.KAFKA_GROUP_PREFIX ?? ''}k39-`,
    });
  } finally {
    await stopKafkaNodes({ ports, log });
  }
}

const args = process.argv.slice(2);
const legacyOnly = args.includes('--kafka-legacy-only');
let rc = legacyOnly ? 0 : await runVitest(args, env);
if (rc === 0 && (legacyOnly || args.length === 0)) rc = await legacyKafkaRun();
console.log(`[test] ${rc === 0 ? 'passed' : `FAILED (exit ${rc})`} — total ${secs()}`);
process.exit(rc);
