// The runtime every npm script uses is the `node` devDependency (Node 24 LTS), whatever Node the machine has.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
  allowScripts?: Record<string, boolean>;
};

describe('runtime', () => {
  it('the tests run on the node devDependency, Node 24, which engines require', () => {
    expect(pkg.engines.node).toBe('>=24');
    expect(process.versions.node).toBe(pkg.devDependencies.node);
    const bin = execFileSync(path.join(root, 'node_modules/.bin/node'), ['--version'], { encoding: 'utf8' }).trim();
    expect(bin).toBe(`v${pkg.devDependencies.node}`);
  });

  it("npm may run the install scripts the runtime needs: node's preinstall fetches the binary, esbuild's (tsx) its own", () => {
    // npm 11.16+ warns about install scripts not listed in allowScripts, and npm 12 skips them: without these
    // entries `npm ci` would leave node_modules/.bin/node without a binary.
    expect(pkg.allowScripts).toMatchObject({ node: true, esbuild: true });
  });
});
