import pg from 'pg';
import { serverClientConfig } from '../catalog/connection-config.js';
import { assertSlug, quoteIdent } from '../ids.js';
import { type MigrateResult, migrateDatabase } from '../migrations/database-migrator.js';
import { loadMigrations } from '../migrations/migration-source.js';
import { withAdminClient } from './admin-connection.js';

/** Where each tenant database records its applied migrations (a schema the application role cannot use). */
export const TENANT_LEDGER = { schema: 'tenantplane', table: 'schema_migrations' } as const;

export interface PrepareTenantDatabaseOptions {
  /** Admin URL pointed at the tenant database. */
  adminUrl: string;
  databaseName: string;
  appRole: string;
  migrationsDir: string;
  /** Set for a dedicated database: the one tenant whose rows it holds. */
  ownerTenantId?: string;
}

/**
 * Locks a fresh shard or dedicated database down to the application role, then migrates it. Every step is
 * idempotent, so re-running after a crash finishes the job.
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
    if (options.ownerTenantId !== undefined) {
      // A dedicated database is bound to its tenant for every session, so the router need not set it.
      const tenant = pg.escapeLiteral(assertSlug(options.ownerTenantId));
      await client.query(`ALTER DATABASE ${database} SET tenantplane.tenant_id = ${tenant}`);
    }
  });
  const result = await migrateDatabase({
    ...(await serverClientConfig(options.adminUrl)),
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
