import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type pg from 'pg';
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
 * The lease of a scratch database: a transaction-level advisory lock on the control database, keyed by the
 * database's name, held by the process using it from before it is created until after it is dropped. A
 * process that dies ends its session, and its lease with it; the database it leaves behind is then
 * recognisable as abandoned (see dropAbandonedScratchDatabases).
 */
const SCRATCH_LEASE = "hashtext('tenantplane.scratch'), hashtext(?)";

/** `<prefix>_x_`, as a LIKE pattern that matches it literally. */
function scratchPattern(databasePrefix: string): string {
  return `${databasePrefix.replace(/[\\%_]/g, (char) => `\\${char}`)}\\_x\\_%`;
}

/**
 * A throwaway tenant database on a server, for migrating a backup's data forward or a restore drill. It is
 * always dropped, whether `work` succeeds or fails; its name carries the database prefix
 * (`<prefix>_x_<random>`), and it is leased (SCRATCH_LEASE) while in use, so one a killed process left is
 * dropped by the next scratch database made on its server, or by the schedule's hourly sweep.
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
  // The lease is one pooled catalog connection, idle in a transaction that holds nothing but the lock.
  return options.catalog.knex.transaction(async (lease) => {
    await lease.raw(`SELECT pg_advisory_xact_lock(${SCRATCH_LEASE})`, [name]);
    const serverUrl = await options.catalog.serverAdminUrl(options.serverId);
    await withAdminClient(serverUrl, async (client) => {
      // Leftovers of killed processes go first, so they never pile up on a server that runs drills.
      await dropAbandoned(lease, client, options.databasePrefix);
      await createDatabaseIfMissing(client, name);
    });
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
  });
}

/**
 * Drops the server's scratch databases of this prefix whose lease no live process holds: those a process
 * killed mid-drill or mid-restore left. Answers the names dropped.
 */
export async function dropAbandonedScratchDatabases(options: {
  catalog: Catalog;
  serverId: string;
  databasePrefix: string;
}): Promise<string[]> {
  const serverUrl = await options.catalog.serverAdminUrl(options.serverId);
  return options.catalog.knex.transaction((lease) =>
    withAdminClient(serverUrl, (client) => dropAbandoned(lease, client, options.databasePrefix)),
  );
}

async function dropAbandoned(lease: Knex.Transaction, client: pg.Client, databasePrefix: string) {
  const { rows } = await client.query<{ datname: string }>(
    'SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY datname',
    [scratchPattern(databasePrefix)],
  );
  const dropped: string[] = [];
  for (const { datname } of rows) {
    // Taken, the lease stays with this transaction until it ends: no process can be using the database.
    const taken = await lease.raw(`SELECT pg_try_advisory_xact_lock(${SCRATCH_LEASE}) AS free`, [datname]);
    if (!taken.rows[0].free) continue;
    await dropDatabaseIfExists(client, datname);
    dropped.push(datname);
  }
  return dropped;
}
