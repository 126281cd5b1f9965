// `npm run migrate`: applies migrations/ to DATABASE_URL, creating the database first when it is missing.
import { readSetting } from '../config.js';
import { MIGRATIONS_DIR } from '../paths.js';
import { ensureDatabase, migrate } from './migrate.js';

async function main(): Promise<void> {
  const databaseUrl = readSetting('DATABASE_URL');
  const dir = MIGRATIONS_DIR;
  if (await ensureDatabase(databaseUrl)) console.log(`[migrate] created database ${new URL(databaseUrl).pathname.slice(1)}`);
  const { applied, skipped } = await migrate(databaseUrl, dir);
  for (const f of applied) console.log(`[migrate] applied ${f}`);
  console.log(`[migrate] ${applied.length} applied, ${skipped.length} already applied`);
}

main().catch((err: unknown) => {
  console.error(`[migrate] failed: ${(err as Error).message}`);
  process.exit(1);
});
