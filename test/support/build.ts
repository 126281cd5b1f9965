// vitest globalSetup: compiles the server (tsconfig.build.json -> dist/) once per run, so every test and bench
// starts the same compiled server that `npm start` and the image run (not a tsx transpile).
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { ROOT } from './cluster.js';

/** Set in vitest's main process once built: both projects (unit, integration) name this setup, one build serves. */
const BUILT = Symbol.for('kafka-stomp-chat.test.built');

export default function setup(): void {
  const g = globalThis as { [BUILT]?: boolean };
  if (g[BUILT]) return;
  g[BUILT] = true;
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const t0 = Date.now();
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  console.log(`[build] server compiled to dist/ in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
