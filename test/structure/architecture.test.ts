// The house rules, checked on every run so they stay true: the import graph between capability folders, client
// libraries only inside their adapters, and file and function sizes (ARCHITECTURE.md, "The rules above stay true").
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cluster.js';

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...sources(path));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const FILES = [...sources('src'), ...sources('protocol')];
const text = (f: string) => readFileSync(join(ROOT, f), 'utf8');

/** Module specifiers a file imports (static, dynamic and type-only). */
function imports(file: string): string[] {
  const specs: string[] = [];
  for (const m of text(file).matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)) specs.push(m[1]!);
  return specs;
}

/** The folder under src/ an import resolves to ('protocol' for the codec), or null for packages. */
function folderOf(file: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const target = relative(ROOT, join(ROOT, file, '..', spec));
  if (target.startsWith('protocol')) return 'protocol';
  const m = /^src\/([^/]+)\//.exec(target);
  return m ? m[1]! : 'src';
}

const folder = (file: string) => /^src\/([^/]+)\//.exec(file)?.[1] ?? (file.startsWith('protocol') ? 'protocol' : 'src');

// Client libraries of the infrastructure live in their adapters only.
const ADAPTER_LIBRARIES: Record<string, RegExp> = {
  ioredis: /^src\/(counters\/[a-z-]+-redis|fanout\/redis|infra\/cluster)\.ts$/,
  kafkajs: /^src\/(pipeline\/kafka(-consumers|-dead-letters|js-request-queue-fix)?|metrics\/kafka-lag)\.ts$/,
  kysely: /^src\/store\/(kysely|kysely-messages|kysely-rooms|kysely-dead-letter-marks|kysely-blocks|schema|pglite)\.ts$/,
  pg: /^src\/store\/(kysely|migrate)\.ts$/,
  '@electric-sql/pglite': /^src\/store\/pglite\.ts$/,
};

describe('architecture', () => {
  it('finds the sources', () => {
    expect(FILES.length).toBeGreaterThan(60);
  });

  it('nothing under http/ or gateway/ imports from pipeline/', () => {
    const bad = FILES.filter((f) => ['http', 'gateway'].includes(folder(f))).flatMap((f) =>
      imports(f).filter((s) => folderOf(f, s) === 'pipeline').map((s) => `${f} -> ${s}`),
    );
    expect(bad).toEqual([]);
  });

  it('ioredis, kafkajs, kysely, pg and PGlite are imported only by their adapters', () => {
    const bad = FILES.flatMap((f) =>
      imports(f)
        .filter((s) => Object.hasOwn(ADAPTER_LIBRARIES, s) && !ADAPTER_LIBRARIES[s]!.test(f))
        .map((s) => `${f} -> ${s}`),
    );
    expect(bad).toEqual([]);
  });

  it('chat/ (the use cases) imports no adapter and no transport; shared/ imports nothing of ours but shared/', () => {
    const bad = FILES.flatMap((f) =>
      imports(f)
        .filter((s) => {
          const to = folderOf(f, s);
          if (folder(f) === 'shared') return to !== null && to !== 'shared';
          if (folder(f) === 'chat') return ['gateway', 'http', 'infra'].includes(to ?? '') || /\/(redis|kafka|kysely|pglite|local-[a-z]+)\.js$/.test(s);
          return false;
        })
        .map((s) => `${f} -> ${s}`),
    );
    expect(bad).toEqual([]);
  });

  it('the HTTP route modules do not import the server that registers them (their shared types are in http/deps.ts)', () => {
    const bad = FILES.filter((f) => f.startsWith('src/http/routes/')).flatMap((f) =>
      imports(f)
        .filter((s) => relative(ROOT, join(ROOT, f, '..', s)) === 'src/http/server.js')
        .map((s) => `${f} -> ${s}`),
    );
    expect(FILES.filter((f) => f.startsWith('src/http/routes/')).length).toBeGreaterThan(4);
    expect(bad).toEqual([]);
  });

  it('protocol/ imports nothing from src/, ws, net or pino', () => {
    const bad = FILES.filter((f) => folder(f) === 'protocol').flatMap((f) =>
      imports(f)
        .filter((s) => s.includes('/src/') || ['ws', 'node:net', 'net', 'pino'].includes(s))
        .map((s) => `${f} -> ${s}`),
    );
    expect(bad).toEqual([]);
  });

  it('no source file is over 360 lines', () => {
    const long = FILES.map((f) => [f, text(f).split('\n').length] as const).filter(([f, n]) => n > 360 && f !== 'protocol/decoder.ts');
    expect(long).toEqual([]);
  });

  it('no function is over 80 lines (the decoder dispatch loop excepted)', () => {
    const long: string[] = [];
    for (const f of FILES) {
      const sf = ts.createSourceFile(f, text(f), ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node) => {
        if (ts.isFunctionLike(node) && 'body' in node && node.body) {
          const start = sf.getLineAndCharacterOfPosition(node.getStart()).line;
          const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
          const name = (node as { name?: ts.Node }).name?.getText() ?? '(anonymous)';
          if (end - start + 1 > 80 && !(f === 'protocol/decoder.ts' && (name === 'push' || name === 'parse'))) long.push(`${f}:${start + 1} ${name} (${end - start + 1} lines)`);
        }
        ts.forEachChild(node, visit);
      };
      visit(sf);
    }
    expect(long).toEqual([]);
  });
});
