// Migrations against fresh throwaway databases on the real PostgreSQL: applied once, idempotent, safe when two
// runners race; ensureDatabase creates a database once; the schema has the tables and unique constraints
// the rest of the system relies on. Every database created here is dropped at the end.
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { ensureDatabase, migrate } from '../../src/store/migrate.js';
import { ROOT } from '../support/cluster.js';
import { readSetting } from '../../src/config.js';

const BASE_URL = readSetting('DATABASE_URL');
const MIGRATIONS = `${ROOT}migrations`;
const FILES = readdirSync(MIGRATIONS)
  .filter((f) => f.endsWith('.sql'))
  .sort();

const created: string[] = [];
function throwawayUrl(): { name: string; url: string } {
  const name = `chat_migrate_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  created.push(name);
  const url = new URL(BASE_URL);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

function adminUrl(): string {
  const url = new URL(BASE_URL);
  url.pathname = '/postgres';
  return url.toString();
}

async function query<T extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function databaseExists(name: string): Promise<boolean> {
  return (await query(adminUrl(), 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).length === 1;
}

afterAll(async () => {
  for (const name of created) {
    await query(adminUrl(), `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  }
});

describe('migrations', () => {
  it('there is at least one migration file', () => {
    expect(FILES.length).toBeGreaterThan(0);
  });

  it('ensureDatabase creates a missing database once and is idempotent', async () => {
    const { name, url } = throwawayUrl();
    expect(await databaseExists(name)).toBe(false);
    expect(await ensureDatabase(url)).toBe(true);
    expect(await databaseExists(name)).toBe(true);
    expect(await ensureDatabase(url)).toBe(false);
    expect(await databaseExists(name)).toBe(true);
  });

  it('two ensureDatabase calls at once: both succeed, exactly one creates', async () => {
    const { name, url } = throwawayUrl();
    const results = await Promise.all([ensureDatabase(url), ensureDatabase(url)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await databaseExists(name)).toBe(true);
  });

  it('migrate applies every file once; a second run applies nothing', async () => {
    const { url } = throwawayUrl();
    await ensureDatabase(url);
    const first = await migrate(url, MIGRATIONS);
    expect(first).toEqual({ applied: FILES, skipped: [] });
    const second = await migrate(url, MIGRATIONS);
    expect(second).toEqual({ applied: [], skipped: FILES });
    const rows = await query<{ name: string }>(url, 'SELECT name FROM schema_migrations ORDER BY name');
    expect(rows.map((r) => r.name)).toEqual(FILES);
  });

  it('two runs at once both succeed and apply each migration exactly once', async () => {
    const { url } = throwawayUrl();
    await ensureDatabase(url);
    const [a, b] = await Promise.all([migrate(url, MIGRATIONS), migrate(url, MIGRATIONS)]);
    expect([...a.applied, ...b.applied].sort()).toEqual(FILES);
    expect([...a.skipped, ...b.skipped].sort()).toEqual(FILES);
    const rows = await query<{ name: string; n: string }>(url, 'SELECT name, count(*) AS n FROM schema_migrations GROUP BY name ORDER BY name');
    expect(rows).toEqual(FILES.map((name) => ({ name, n: '1' })));
  });

  it('the schema has the expected tables and unique constraints', async () => {
    const { url } = throwawayUrl();
    await ensureDatabase(url);
    await migrate(url, MIGRATIONS);
    const tables = await query<{ table_name: string }>(
      url,
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    );
    const names = tables.map((t) => t.table_name);
    for (const t of ['users', 'chat_rooms', 'chat_room_members', 'messages', 'notifications', 'schema_migrations']) {
      expect(names, t).toContain(t);
    }
    const constraints = await query<{ conname: string; table: string; columns: string[] }>(
      url,
      `SELECT c.conname, c.conrelid::regclass::text AS table,
              array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i) AS columns
       FROM pg_constraint c
       WHERE c.contype = 'u' AND c.conname = ANY($1)
       ORDER BY c.conname`,
      [['chat_room_members_uk', 'messages_room_seq_uk', 'messages_sender_idem_uk']],
    );
    expect(constraints).toEqual([
      { conname: 'chat_room_members_uk', table: 'chat_room_members', columns: ['room_id', 'user_id'] },
      { conname: 'messages_room_seq_uk', table: 'messages', columns: ['room_id', 'seq'] },
      { conname: 'messages_sender_idem_uk', table: 'messages', columns: ['sender_id', 'idempotency_key'] },
    ]);
  });
});
