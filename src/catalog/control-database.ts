import knexFactory, { type Knex } from 'knex';
import { type MigrateResult, migrateDatabase } from '../migrations/database-migrator.js';
import { loadMigrations } from '../migrations/migration-source.js';
import { CONTROL_MIGRATIONS_DIR } from '../paths.js';

/** Brings the catalog schema up to date; safe to call from several processes at once. */
export async function migrateControlDatabase(connectionString: string): Promise<MigrateResult> {
  return migrateDatabase({
    connectionString,
    migrations: await loadMigrations(CONTROL_MIGRATIONS_DIR),
    ledger: { schema: 'tenantplane', table: 'control_migrations' },
  });
}

export function connectControlDatabase(connectionString: string, maxConnections = 10): Knex {
  return knexFactory({
    client: 'pg',
    connection: connectionString,
    pool: { min: 0, max: maxConnections },
    acquireConnectionTimeout: 10000,
  });
}
