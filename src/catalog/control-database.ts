import knexFactory, { type Knex } from 'knex';
import { markControlDatabaseError } from '../errors/index.js';
import { type MigrateResult, migrateDatabase } from '../migrations/database-migrator.js';
import { loadMigrations } from '../migrations/migration-source.js';
import { CONTROL_MIGRATIONS_DIR } from '../paths.js';
import { LossReportingClient } from '../postgres/connection-loss.js';

/** Brings the catalog schema up to date; safe to call from several processes at once. */
export async function migrateControlDatabase(connectionString: string): Promise<MigrateResult> {
  return migrateDatabase({
    connectionString,
    migrations: await loadMigrations(CONTROL_MIGRATIONS_DIR),
    ledger: { schema: 'tenantplane', table: 'control_migrations' },
  });
}

/**
 * The catalog's knex. knex's pg pool listens for its connections' errors and discards a connection that
 * failed. Its connections are LossReportingClients, so a statement or connect that fails because the
 * connection died rejects with a code (ConnectionLostError). Every error from this database is marked as
 * the control database's, so that its outage answers 503 `catalog_unavailable` rather than a tenant
 * database's code (see databaseUnavailableError).
 */
export function connectControlDatabase(connectionString: string, maxConnections = 10): Knex {
  const knex = knexFactory({
    client: 'pg',
    connection: connectionString,
    pool: { min: 0, max: maxConnections },
    acquireConnectionTimeout: 10000,
  });
  // knex's pg dialect opens every connection with `new driver.Client(settings)`, driver being the pg module.
  knex.client.driver = { ...knex.client.driver, Client: LossReportingClient };
  // Statements that failed, in or out of a transaction (a transaction's client forwards its events here).
  knex.client.on('query-error', markControlDatabaseError);
  // A connection the pool could not open or hand out: this never reaches 'query-error'.
  const acquire = knex.client.acquireConnection.bind(knex.client);
  knex.client.acquireConnection = () =>
    acquire().catch((error: unknown) => {
      markControlDatabaseError(error);
      throw error;
    });
  return knex;
}
