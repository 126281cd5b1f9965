// Static checks of the app image (compose/app.Dockerfile, .dockerignore), since no Docker engine runs here:
// hadolint-style rules (test/ops/dockerfile-lint.ts, themselves tested on bad examples), the multi-stage layout
// (compiled JS and production dependencies only), and that the build context has what the image copies.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { execForm, isPinnedImage, lintDockerfile, parseDockerfile } from './dockerfile-lint.js';
import { SERVER_NODE_FLAGS } from '../support/cluster.js';
import { ROOT, read, rel } from './tools.js';

const DOCKERFILE = 'compose/app.Dockerfile';
const text = read(DOCKERFILE);
const stages = parseDockerfile(text);
const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

/** .dockerignore patterns (no negations used) → does `p` (relative, posix) get left out of the context? */
function ignored(p: string): boolean {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  expect(
    patterns.some((x) => x.startsWith('!')),
    'negated .dockerignore patterns are not handled here',
  ).toBe(false);
  return patterns.some((pat) => {
    const re = new RegExp(
      '^' +
        pat
          .replace(/^\//, '')
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*\*\//g, '(?:.*/)?')
          .replace(/\*\*/g, '.*')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '[^/]') +
        '(?:/.*)?$',
    );
    return re.test(p);
  });
}

describe('compose/app.Dockerfile: lint rules', () => {
  it('passes every rule', () => {
    expect(lintDockerfile(text)).toEqual([]);
  });

  it('the rules catch what they are meant to catch', () => {
    const rules = (df: string) => [...new Set(lintDockerfile(df).map((f) => f.rule))].sort();
    expect(rules('FROM node\nUSER node\nHEALTHCHECK CMD ["node","-e","1"]\nCMD ["node","a.js"]\n')).toEqual(['pinned-from']);
    expect(rules('FROM node:latest\nUSER node\nHEALTHCHECK CMD ["node","-e","1"]\nCMD ["node","a.js"]\n')).toEqual(['pinned-from']);
    expect(rules('FROM node:24.1.0-slim AS b\nFROM b\nUSER node\nHEALTHCHECK CMD ["node","-e","1"]\nCMD ["node","a.js"]\n')).toEqual([]);
    expect(rules('FROM node:24.1.0-slim\nHEALTHCHECK CMD ["node","-e","1"]\nCMD ["node","a.js"]\n')).toEqual(['non-root-user']);
    expect(rules('FROM node:24.1.0-slim\nUSER node\nUSER root\nHEALTHCHECK CMD ["node","-e","1"]\nCMD ["node","a.js"]\n')).toEqual(['non-root-user']);
    // a USER in the build stage only does not count
    expect(rules('FROM node:24.1.0-slim AS b\nUSER node\nFROM node:24.1.0-slim\nHEALTHCHECK CMD ["node","-e","1"]\nCMD ["node","a.js"]\n')).toEqual([
      'non-root-user',
    ]);
    expect(rules('FROM node:24.1.0-slim\nUSER node\nCMD ["node","a.js"]\n')).toEqual(['healthcheck']);
    expect(rules('FROM node:24.1.0-slim\nUSER node\nHEALTHCHECK CMD curl -f http://localhost/readyz\nCMD ["node","a.js"]\n')).toEqual(['healthcheck-no-curl']);
    expect(rules('FROM node:24.1.0-slim\nUSER node\nHEALTHCHECK CMD ["node","-e","1"]\nCMD node a.js\n')).toEqual(['exec-form']);
    expect(rules('FROM node:24.1.0-slim\nUSER node\nHEALTHCHECK CMD ["node","-e","1"]\nCMD ["npm", "start"]\n')).toEqual(['no-npm-start']);
    expect(rules('FROM node:24.1.0-slim\nUSER node\nHEALTHCHECK CMD ["node","-e","1"]\nENTRYPOINT npm start\n')).toEqual(['exec-form']);
    expect(rules('FROM node:24.1.0-slim\nADD https://example.com/x.tgz /x\nUSER node\nHEALTHCHECK CMD ["node","-e","1"]\nCMD ["node","a.js"]\n')).toEqual([
      'no-add-url',
    ]);
    expect(
      rules('FROM node:24.1.0-slim\nRUN apt-get update && apt-get install -y tini\nUSER node\nHEALTHCHECK CMD ["node","-e","1"]\nCMD ["node","a.js"]\n'),
    ).toEqual(['apt-cleanup', 'apt-no-recommends']);
    expect(
      rules(
        'FROM node:24.1.0-slim\nRUN apt-get install -y --no-install-recommends tini \\\n && rm -rf /var/lib/apt/lists/*\nUSER node\nHEALTHCHECK CMD ["node","-e","1"]\nCMD ["node","a.js"]\n',
      ),
    ).toEqual(['apt-update']);
    expect(isPinnedImage('ghcr.io/kafbat/kafka-ui:v1.5.0')).toBe(true);
    expect(isPinnedImage('localhost:5000/img')).toBe(false);
    expect(isPinnedImage('img@sha256:' + 'a'.repeat(64))).toBe(true);
  });
});

describe('compose/app.Dockerfile: layout', () => {
  const build = stages[0]!;
  const final = stages[stages.length - 1]!;
  const runs = (s: typeof final) => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  const copies = (s: typeof final) => s.instructions.filter((i) => i.keyword === 'COPY');

  it('is two stages on the Node version every npm script uses (package.json devDependency "node"), slim', () => {
    expect(stages.length).toBe(2);
    const nodeVersion = pkg.devDependencies.node;
    expect(nodeVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(nodeVersion!.split('.')[0]).toBe('24');
    for (const s of stages) expect(s.image).toBe(`node:${nodeVersion}-bookworm-slim`);
    expect(build.name).toBe('build');
  });

  it('build stage: npm ci with dev dependencies, then npm run build', () => {
    const r = runs(build).join('\n');
    expect(r).toMatch(/npm ci\b/);
    expect(r).not.toMatch(/--omit=dev/);
    expect(r).toMatch(/npm run build/);
    expect(r.indexOf('npm ci')).toBeLessThan(r.indexOf('npm run build'));
  });

  it('runtime stage: production dependencies only, compiled JS from the build stage, migrations and web, no sources', () => {
    const r = runs(final).join('\n');
    expect(r).toMatch(/npm ci --omit=dev/);
    const fromBuild = copies(final).filter((c) => c.args.includes('--from='));
    expect(fromBuild.map((c) => c.args)).toEqual(['--from=build /app/dist ./dist']);
    const local = copies(final)
      .filter((c) => !c.args.includes('--from='))
      .flatMap((c) => c.args.split(' ').slice(0, -1));
    expect(local.sort()).toEqual(['migrations', 'package-lock.json', 'package.json', 'web'].sort());
    expect(final.instructions.some((i) => i.keyword === 'ENV' && /NODE_ENV=production/.test(i.args))).toBe(true);
  });

  it('runs node on the compiled entry point under tini, as user node', () => {
    const entry = execForm(final.instructions.find((i) => i.keyword === 'ENTRYPOINT')!.args);
    expect(entry).toEqual(['/usr/bin/tini', '--']);
    expect(runs(final).join('\n')).toMatch(/apt-get install -y --no-install-recommends tini/);
    const cmd = execForm(final.instructions.find((i) => i.keyword === 'CMD')!.args)!;
    // The same node flags as `npm start` and the test harness's servers.
    expect(cmd).toEqual(['node', ...SERVER_NODE_FLAGS, 'dist/src/main.js']);
    const start = (JSON.parse(fs.readFileSync(rel('package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
    expect(start).toContain(`exec node ${SERVER_NODE_FLAGS.join(' ')} --enable-source-maps dist/src/main.js`);
    // dist/src/<x>.js is compiled from src/<x>.ts
    expect(fs.existsSync(rel('src/main.ts'))).toBe(true);
    expect(final.instructions.filter((i) => i.keyword === 'USER').pop()?.args).toBe('node');
  });

  it('checks health on /readyz with node (no curl in the image)', () => {
    const hc = final.instructions.find((i) => i.keyword === 'HEALTHCHECK')!;
    const argv = execForm(hc.args.replace(/^(--[a-z-]+=\S+\s+)*CMD\s+/, ''))!;
    expect(argv.slice(0, 2)).toEqual(['node', '-e']);
    expect(argv[2]).toContain('/readyz');
    expect(argv[2]).toContain('process.exit(r.ok ? 0 : 1)');
    // the one-liner is valid JavaScript
    expect(() => new Function(argv[2]!)).not.toThrow();
  });

  it('every file the image copies from the context exists and is not excluded by .dockerignore', () => {
    const sources = stages
      .flatMap((s) => copies(s))
      .filter((c) => !c.args.includes('--from='))
      .flatMap((c) =>
        c.args
          .split(' ')
          .filter((a) => !a.startsWith('--'))
          .slice(0, -1),
      );
    expect(sources).toContain('tsconfig.build.json');
    const problems = sources.flatMap((src) => [
      ...(fs.existsSync(path.join(ROOT, src)) ? [] : [`${src} does not exist`]),
      ...(ignored(src) ? [`${src} is excluded by .dockerignore`] : []),
    ]);
    expect(problems).toEqual([]);
  });

  it('.dockerignore keeps local state and build output out of the context', () => {
    for (const p of [
      'node_modules',
      'node_modules/x/y.js',
      '.stack',
      '.stack/test-logs/a.log',
      'dist',
      'dist/src/main.js',
      '.git',
      'bench/results/x.jsonl',
      'server.log',
      '.env',
    ])
      expect(ignored(p), p).toBe(true);
    for (const p of ['src/main.ts', 'protocol/decoder.ts', 'migrations/001_init.sql', 'web/index.html', 'package.json', 'package-lock.json', 'tsconfig.json'])
      expect(ignored(p), p).toBe(false);
  });

  it('the production dependencies (npm ci --omit=dev) cover every package src/ and protocol/ load at run time', () => {
    const builtin = new Set(['node']);
    const missing: string[] = [];
    const walk = (dir: string): string[] =>
      fs
        .readdirSync(path.join(ROOT, dir), { withFileTypes: true })
        .flatMap((e) =>
          e.isDirectory()
            ? walk(`${dir}/${e.name}`)
            : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')
              ? [`${dir}/${e.name}`]
              : [],
        );
    for (const file of [...walk('src'), ...walk('protocol')]) {
      const src = read(file);
      const specs = [
        ...[...src.matchAll(/^\s*import\s+(?!type\s)[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!),
        ...[...src.matchAll(/^\s*export\s+(?!type\s)[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!),
        ...[...src.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!),
        ...[...src.matchAll(/\brequire(?:\.resolve)?\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!),
      ];
      for (const spec of specs) {
        if (spec.startsWith('.') || spec.startsWith('node:')) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (builtin.has(name)) continue;
        if (!(name in pkg.dependencies)) missing.push(`${file}: '${spec}' is ${name in pkg.devDependencies ? 'a devDependency' : 'not a dependency'}`);
      }
    }
    expect(missing, 'move these to "dependencies" in package.json, or the image fails at run time').toEqual([]);
  });
});
