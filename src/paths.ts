// Where the project's runtime folders are (migrations/, web/), whether this runs from src/ under tsx or from dist/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the project root (package.json) above ' + fileURLToPath(import.meta.url));
}

/** The repository (or image) root: the folder holding package.json, migrations/ and web/. */
export const PROJECT_ROOT = findRoot();
export const MIGRATIONS_DIR = join(PROJECT_ROOT, 'migrations');
export const WEB_DIR = join(PROJECT_ROOT, 'web');
