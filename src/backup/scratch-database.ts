import { randomBytes } from 'node:crypto';
import type { Catalog } from '../catalog/catalog.js';
import { serverClientConfig } from '../catalog/connection-config.js';
import { migrateDatabase } from '../migrations/database-migrator.js';
import { loadMigrations } from '../migrations/migration-source.js';
import {
  createDatabaseIfMissing,
  dropDatabaseIfExists,
  withAdminClient,
} from '../provisioning/admin-connection.js';
import { TENANT_LEDGER } from '../provisioning/tenant-database.js';
import { tenantBoundUrl } from '../tenant-session/tenant-binding.js';

export interface ScratchDatabase {
  name: string;
  adminUrl: string;
  /** Applies the tenant migrations up to `to` (all when omitted). */
  migrate(to?: string): Promise<void>;
}

/**
 * A throwaway tenant database on a server, for migrating a backup's data forward. It is always dropped,
 * whether `work` succeeds or fails; its name carries the database prefix, so leftovers of a killed process
 * are recognisable (`<prefix>_x_<random>`).
 */
export async function withScratchDatabase<T>(
  options: {
    catalog: Catalog;
    serverId: string;
    databasePrefix: string;
    migrationsDir: string;
    /** The tenant whose rows it takes: its sessions act as that tenant, migrations included. */
    tenantId?: string;
  },
  work: (scratch: ScratchDatabase) => Promise<T>,
): Promise<T> {
  const name = `${options.databasePrefix}_x_${randomBytes(6).toString('hex')}`;
  const serverUrl = await options.catalog.serverAdminUrl(options.serverId);
  await withAdminClient(serverUrl, (client) => createDatabaseIfMissing(client, name));
  try {
    const url = await options.catalog.serverAdminUrl(options.serverId, name);
    const adminUrl = options.tenantId === undefined ? url : tenantBoundUrl(url, options.tenantId);
    const migrations = await loadMigrations(options.migrationsDir);
    return await work({
      name,
      adminUrl,
      async migrate(to) {
        await migrateDatabase({
          ...(await serverClientConfig(adminUrl)),
          migrations,
          ledger: TENANT_LEDGER,
          ...(to === undefined ? {} : { to }),
        });
      },
    });
  } finally {
    await withAdminClient(serverUrl, (client) => dropDatabaseIfExists(client, name));
  }
}
