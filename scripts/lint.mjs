#!/usr/bin/env node
// The lint step of `npm test` (also `node scripts/lint.mjs` alone): the web client type-checked as JavaScript
// (web/tsconfig.json, checkJs), typescript-eslint with type information over the TypeScript and the web client
// (eslint.config.js: floating promises and a few other real defects, no style), and the formatter's check on every
// source file (FORMATTED; `npx prettier --write` with the same list fixes what it finds). Exits 1 on any finding.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const bin = (path) => join(ROOT, 'node_modules', path);

/** What the formatter keeps in shape (.prettierrc.json): every source file (markup, styles and prose are left as written). */
export const FORMATTED = ['.prettierrc.json', 'eslint.config.js', 'vitest.config.ts', '{bench,protocol,scripts,src,test,web}/**/*.{ts,mts,mjs,js}'];

const STEPS = [
  ['web (tsc, checkJs)', bin('typescript/bin/tsc'), ['-p', 'web/tsconfig.json']],
  // The cache (by content) skips files unchanged since a clean run: ~25 s from cold on the 2-core machine, a few
  // seconds after. A type change in one file does not re-lint its unchanged callers until they change or the cache
  // goes (CI starts without one, so it always lints everything).
  [
    'eslint',
    bin('eslint/bin/eslint.js'),
    [
      '--max-warnings',
      '0',
      '--cache',
      '--cache-strategy',
      'content',
      '--cache-location',
      'node_modules/.cache/eslint/',
      'src',
      'protocol',
      'test',
      'bench',
      'scripts',
      'web',
    ],
  ],
  ['prettier --check', bin('prettier/bin/prettier.cjs'), ['--check', '--log-level', 'warn', ...FORMATTED]],
];

function run([name, path, args]) {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (err) => resolve({ name, ok: false, out: String(err), ms: Date.now() - t0 }));
    child.on('exit', (code) => resolve({ name, ok: code === 0, out, ms: Date.now() - t0 }));
  });
}

const t0 = Date.now();
// The steps read the tree independently: run them side by side.
const results = await Promise.all(STEPS.map(run));
for (const r of results) {
  console.log(`[lint] ${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (${(r.ms / 1000).toFixed(1)} s)`);
  if (!r.ok) console.log(r.out.trimEnd().replace(/^/gm, '       '));
}
const failed = results.filter((r) => !r.ok).length;
console.log(`[lint] ${failed === 0 ? 'clean' : `${failed} step(s) failed`} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(failed === 0 ? 0 : 1);
