// The store's database as PGlite (PostgreSQL compiled to WebAssembly) in a local folder: the embedded mode runs
// the same SQL migrations and the same KyselyStore over it as the cluster mode runs over PostgreSQL.
import { mkdir } from 'node:fs/promises';
import { PGlite, types } from '@electric-sql/pglite';
import { Kysely, PGliteDialect } from 'kysely';
import { KyselyStore } from './kysely.js';
import { applyMigrations, type MigrateResult, type MigrationConnection } from './migrate.js';
import type { Database } from './schema.js';

export interface PgliteStore {
  store: KyselyStore;
  /** What opening applied (a fresh folder gets every migration). */
  migrations: MigrateResult;
  /** Closes the store and the database (flushes PGlite's files). */
  close(): Promise<void>;
}

/**
 * Opens (creating when missing) the PGlite database in `dir` and applies the pending migrations of
 * `migrationsDir`. One process at a time may open a folder: the caller holds a lock on it (PGlite has none).
 */
export async function openPgliteStore(dir: string, migrationsDir: string): Promise<PgliteStore> {
  await mkdir(dir, { recursive: true });
  const pglite = new PGlite(dir, {
    // int8 stays a decimal string, as node-postgres returns it (the store keeps ids and seqs bigint-safe).
    parsers: { [types.INT8]: (value: string) => value },
  });
  try {
    await pglite.waitReady;
    const conn: MigrationConnection = {
      query: async <R>(text: string, params?: unknown[]) => (await pglite.query<R>(text, params)).rows,
      // PGlite's query() takes one statement (extended protocol); exec() runs a script.
      exec: async (script: string) => void (await pglite.exec(script)),
    };
    const migrations = await applyMigrations(conn, migrationsDir);
    // Kysely serialises PGlite's single connection (its adapter reports no multiple connections), so a
    // transaction never sees another caller's statements.
    const store = new KyselyStore({ db: new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) }) });
    return {
      store,
      migrations,
      close: async () => {
        // Kysely closes PGlite only when it has used it; close it ourselves otherwise.
        await store.close();
        if (!pglite.closed) await pglite.close();
      },
    };
  } catch (err) {
    // The start-up error is the one to report; a failed close of a database that never opened adds nothing.
    if (!pglite.closed) await pglite.close().catch(() => {});
    throw err;
  }
}
