// Applies migrations/*.sql in name order, each once, each in its own transaction, over PostgreSQL (pg) or any
// other connection that speaks its SQL (PGlite, see pglite.ts).
// On PostgreSQL it is safe to run twice and from two instances at once: a session-level advisory lock serialises
// runners. PGlite has a single connection owned by one process (its data folder is locked), so it needs none.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';

const LOCK_KEY = 7_210_431_001; // arbitrary constant shared by every runner

export interface MigrateResult {
  applied: string[];
  skipped: string[];
}

/** The slice of a database connection the runner needs (pg's Client and PGlite each adapt to it). */
export interface MigrationConnection {
  /** Runs one statement with parameters; returns its rows. */
  query<R>(text: string, params?: unknown[]): Promise<R[]>;
  /** Runs a script of several statements without parameters (a migration file). */
  exec(script: string): Promise<void>;
}

export async function migrate(databaseUrl: string, dir: string): Promise<MigrateResult> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  // pg's simple-query protocol (no parameters) runs a multi-statement script in one call.
  const conn: MigrationConnection = {
    query: async <R>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as R[],
    exec: async (script: string) => void (await client.query(script)),
  };
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    return await applyMigrations(conn, dir);
  } finally {
    // An advisory lock ends with its session: client.end() below releases it even when the unlock failed.
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => {});
    await client.end();
  }
}

/**
 * Applies the pending files of `dir` over `conn`, each in its own transaction. The caller makes sure no other
 * runner works on the same database meanwhile (PostgreSQL: `migrate` holds an advisory lock).
 */
export async function applyMigrations(conn: MigrationConnection, dir: string): Promise<MigrateResult> {
  await conn.exec('CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
  const done = new Set((await conn.query<{ name: string }>('SELECT name FROM schema_migrations')).map((r) => r.name));
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const result: MigrateResult = { applied: [], skipped: [] };
  for (const file of files) {
    if (done.has(file)) {
      result.skipped.push(file);
      continue;
    }
    const sql = await readFile(join(dir, file), 'utf8');
    await conn.exec('BEGIN');
    try {
      await conn.exec(sql);
      await conn.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
      await conn.exec('COMMIT');
    } catch (err) {
      await conn.exec('ROLLBACK');
      throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
    }
    result.applied.push(file);
  }
  return result;
}

/** Creates the database named in `databaseUrl` when missing; true when it created it. */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    try {
      await admin.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
    } catch (err) {
      // Two runners racing: the other one created it.
      // 42P04 duplicate_database; 23505 when the two CREATEs collide inside the catalog.
      const code = (err as { code?: string }).code;
      if (code !== '42P04' && code !== '23505') throw err;
      return false;
    }
    return true;
  } finally {
    await admin.end();
  }
}
