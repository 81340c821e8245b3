import type pg from 'pg';
import { serverClientConfig } from '../catalog/connection-config.js';
import { quoteIdent } from '../ids.js';
import { type MigrateResult, migrateDatabase } from '../migrations/database-migrator.js';
import { loadMigrations } from '../migrations/migration-source.js';
import { tenantBoundUrl } from '../tenant-session/tenant-binding.js';
import { withAdminClient } from './admin-connection.js';

/** Where each tenant database records its applied migrations (a schema the application role cannot use). */
export const TENANT_LEDGER = { schema: 'tenantplane', table: 'schema_migrations' } as const;

export interface PrepareTenantDatabaseOptions {
  /** Admin URL pointed at the tenant database. */
  adminUrl: string;
  databaseName: string;
  appRole: string;
  migrationsDir: string;
  /** Set for a dedicated database: the one tenant whose rows it holds (its migrations act as that tenant). */
  ownerTenantId?: string;
}

/**
 * Locks a fresh shard or dedicated database down to the application role, then migrates it. Every step is
 * idempotent, so re-running after a crash finishes the job.
 *
 * Nothing here binds a dedicated database to its tenant: `ALTER DATABASE … SET tenantplane.tenant_id` needs
 * a superuser. Each session that acts as the tenant says so itself: the router's connections in their
 * startup packet (tenantStartupOption), admin work per transaction (set_config) or per connection
 * (tenantBoundUrl). Databases made when the setting was fixed per database keep it, to the same value.
 */
export async function prepareTenantDatabase(options: PrepareTenantDatabaseOptions): Promise<MigrateResult> {
  const database = quoteIdent(options.databaseName);
  const role = quoteIdent(options.appRole);
  await withAdminClient(options.adminUrl, async (client) => {
    await client.query(`REVOKE ALL ON DATABASE ${database} FROM PUBLIC`);
    await client.query(`GRANT CONNECT ON DATABASE ${database} TO ${role}`);
    await client.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    await client.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
    // Tables added by later migrations reach the application role without a grant of their own.
    await client.query(
      `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${role}`,
    );
  });
  // The admin role owns the tables, and row-level security is forced for owners too: a migration that
  // touches a dedicated database's rows sees them only as its tenant.
  const migrationUrl =
    options.ownerTenantId === undefined
      ? options.adminUrl
      : tenantBoundUrl(options.adminUrl, options.ownerTenantId);
  const result = await migrateDatabase({
    ...(await serverClientConfig(migrationUrl)),
    migrations: await loadMigrations(options.migrationsDir),
    ledger: TENANT_LEDGER,
  });
  await withAdminClient(options.adminUrl, async (client) => {
    await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
  });
  return result;
}

/** Names of the tables in a tenant database that hold tenant rows. */
export async function tenantTables(client: pg.Client): Promise<string[]> {
  const result = await client.query<{ table_name: string }>(
    `SELECT c.table_name FROM information_schema.columns c
       JOIN information_schema.tables t USING (table_schema, table_name)
      WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'
      ORDER BY c.table_name`,
  );
  return result.rows.map((row) => row.table_name);
}
