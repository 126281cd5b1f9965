// The store contract against PostgreSQL at DATABASE_URL (migrated by `npm run stack:up`) and against PGlite in a
// temporary folder (migrated on open, as the embedded mode does) — the same KyselyStore and SQL on both.
import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR } from '../../src/paths.js';
import { KyselyStore } from '../../src/store/kysely.js';
import { openPgliteStore, type PgliteStore } from '../../src/store/pglite.js';
import type { Store } from '../../src/store/store.js';
import { storeContract } from './store.contract.js';
import { tempDir } from './support.js';
import { webhookOutboxContract } from './webhook-outbox.contract.js';
import { readSetting } from '../../src/config.js';

const postgres = {
  open: async () => new KyselyStore({ connectionString: readSetting('DATABASE_URL'), max: 4 }),
  close: (store: Store) => store.close(),
};
storeContract('PostgreSQL', postgres);
webhookOutboxContract('PostgreSQL', postgres);

const folder = await tempDir('contract-pglite');
afterAll(() => folder.remove());
const opened = new Map<Store, PgliteStore>();

const pglite = {
  open: async () => {
    const db = await openPgliteStore(folder.dir, MIGRATIONS_DIR);
    opened.set(db.store, db);
    return db.store;
  },
  close: (store: Store) => opened.get(store)!.close(),
};
storeContract('PGlite', pglite);
webhookOutboxContract('PGlite', pglite);

describe('PGlite store: migrations', () => {
  it('applies every migration to a new folder once, and none again when reopened; the data stays', async () => {
    const dir = await tempDir('pglite-migrate');
    try {
      const first = await openPgliteStore(dir.dir, MIGRATIONS_DIR);
      expect(first.migrations.applied).toEqual(
        readdirSync(MIGRATIONS_DIR)
          .filter((f) => f.endsWith('.sql'))
          .sort(),
      );
      expect(first.migrations.skipped).toEqual([]);
      const u = await first.store.createUser({ email: 'kept@example.com', passwordHash: 'h', nickname: 'kept' });
      await first.close();
      const second = await openPgliteStore(dir.dir, MIGRATIONS_DIR);
      expect(second.migrations.applied).toEqual([]);
      expect(second.migrations.skipped).toEqual(first.migrations.applied);
      expect(await second.store.findUserById(u.id)).toMatchObject({ email: 'kept@example.com' });
      await second.close();
    } finally {
      await dir.remove();
    }
  });
});
