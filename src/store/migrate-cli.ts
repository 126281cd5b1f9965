// `npm run migrate`: applies migrations/ to DATABASE_URL, creating the database first when it is missing.
import { MIGRATIONS_DIR } from '../paths.js';
import { ensureDatabase, migrate } from './migrate.js';

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/chat';

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL ?? DEFAULT_URL;
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
