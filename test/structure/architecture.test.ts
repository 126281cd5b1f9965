// The house rules, checked on every run so they stay true: the import graph between capability folders, client
// libraries only inside their adapters, and file and function sizes (STYLE.md; the structure issue's "done when").
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
  ioredis: /^src\/(counters\/[a-z-]+-redis|fanout\/redis|infra\/(cluster|redis))\.ts$/,
  kafkajs: /^src\/(kafka\/(kafkajs|kafka-log|consumer-groups|dead-letters)|metrics\/kafka-lag)\.ts$/,
  kysely: /^src\/store\/(kysely|kysely-messages|kysely-rooms|kysely-dead-letter-marks|kysely-blocks|kysely-webhooks|schema|pglite)\.ts$/,
  pg: /^src\/store\/(kysely|migrate)\.ts$/,
  '@electric-sql/pglite': /^src\/store\/pglite\.ts$/,
};

describe('architecture', () => {
  it('finds the sources', () => {
    expect(FILES.length).toBeGreaterThan(60);
  });

  it('nothing under http/ or gateway/ imports a log adapter or a consumer group (kafka/, local-log/, consumers/)', () => {
    const bad = FILES.filter((f) => ['http', 'gateway'].includes(folder(f))).flatMap((f) =>
      imports(f).filter((s) => ['kafka', 'local-log', 'consumers'].includes(folderOf(f, s) ?? '')).map((s) => `${f} -> ${s}`),
    );
    expect(bad).toEqual([]);
  });

  it('the log port (log/) depends on nothing but shared/: its adapters and users depend on it, not the reverse', () => {
    const bad = FILES.filter((f) => folder(f) === 'log').flatMap((f) =>
      imports(f).filter((s) => { const to = folderOf(f, s); return to !== null && !['log', 'shared'].includes(to); }).map((s) => `${f} -> ${s}`),
    );
    expect(bad).toEqual([]);
  });

  it('no import cycle between folders (the composition root app.ts/main.ts and config.ts/paths.ts are nodes of their own)', () => {
    const node = (file: string) => (/^src\/[^/]+\.ts$/.test(file) ? (/^src\/(app|main)\.ts$/.test(file) ? 'root' : 'config') : folder(file));
    const edges = new Map<string, Set<string>>();
    for (const f of FILES) {
      for (const s of imports(f)) {
        if (!s.startsWith('.')) continue;
        const target = relative(ROOT, join(ROOT, f, '..', s)).replace(/\.js$/, '.ts');
        if (!target.startsWith('src/') && !target.startsWith('protocol')) continue;
        const [a, b] = [node(f), node(target)];
        if (a !== b) edges.set(a, (edges.get(a) ?? new Set()).add(b));
      }
    }
    const reaches = (from: string, to: string, seen = new Set<string>()): boolean =>
      [...(edges.get(from) ?? [])].some((n) => n === to || (!seen.has(n) && (seen.add(n), reaches(n, to, seen))));
    const cycles = [...edges].flatMap(([a, bs]) => [...bs].filter((b) => reaches(b, a)).map((b) => `${a} <-> ${b}`));
    expect(cycles).toEqual([]);
    expect(edges.size).toBeGreaterThan(10);
  });

  it('ioredis, kafkajs, kysely, pg and PGlite are imported only by their adapters', () => {
    const bad = FILES.flatMap((f) =>
      imports(f)
        .filter((s) => Object.hasOwn(ADAPTER_LIBRARIES, s) && !ADAPTER_LIBRARIES[s]!.test(f))
        .map((s) => `${f} -> ${s}`),
    );
    expect(bad).toEqual([]);
  });

  it('kafkajs is loaded only through src/kafka/kafkajs.ts, which installs its fixes first (other files import types)', () => {
    const loads = /^import\s+(?!type\b)[^;]*?from\s+['"]kafkajs['"]|require\(\s*['"]kafkajs['"]\s*\)|import\(\s*['"]kafkajs['"]\s*\)/m;
    const bad = FILES.filter((f) => f !== 'src/kafka/kafkajs.ts' && loads.test(text(f)));
    expect(bad).toEqual([]);
    expect(loads.test(text('src/kafka/kafkajs.ts'))).toBe(true);
  });

  it('chat/ (the use cases) imports no adapter and no transport; shared/ imports nothing of ours but shared/', () => {
    const bad = FILES.flatMap((f) =>
      imports(f)
        .filter((s) => {
          const to = folderOf(f, s);
          if (folder(f) === 'shared') return to !== null && to !== 'shared';
          if (folder(f) === 'chat') return ['gateway', 'http', 'infra', 'kafka', 'local-log', 'consumers'].includes(to ?? '') || /\/(redis|kysely|pglite)\.js$/.test(s);
          return false;
        })
        .map((s) => `${f} -> ${s}`),
    );
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
