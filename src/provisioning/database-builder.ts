import type { DatabaseRecord, Placement } from '../catalog/records.js';
import { ConflictError } from '../errors/index.js';
import { createDatabaseIfMissing, dropDatabaseIfExists, withAdminClient } from './admin-connection.js';
import type { ProvisioningContext } from './provisioning-context.js';
import { prepareTenantDatabase } from './tenant-database.js';

export interface BuildDatabaseInput {
  id: string;
  kind: Placement;
  serverId: string;
  databaseName: string;
  ownerTenantId?: string;
}

/**
 * Creates, locks down and migrates a shard or dedicated database, recorded in the catalog as `creating`
 * until it is ready. A crash leaves the `creating` row behind and the next call finishes the job; an error
 * drops what this call created and removes the row, so no orphan database outlives a failed create.
 */
export class DatabaseBuilder {
  constructor(private readonly context: ProvisioningContext) {}

  async build(input: BuildDatabaseInput): Promise<DatabaseRecord> {
    const { catalog, logger } = this.context;
    const existing = await catalog.getDatabase(input.id);
    if (existing && (existing.status !== 'creating' || existing.databaseName !== input.databaseName)) {
      throw new ConflictError(`database ${input.id} already exists`, 'database_exists');
    }
    const resuming = existing !== undefined;
    if (!resuming) await catalog.insertDatabase(input);
    const server = await catalog.requireServer(input.serverId);
    try {
      await withAdminClient(await catalog.serverAdminUrl(server.id), (client) =>
        createDatabaseIfMissing(client, input.databaseName),
      );
      const migrated = await prepareTenantDatabase({
        adminUrl: await catalog.serverAdminUrl(server.id, input.databaseName),
        databaseName: input.databaseName,
        appRole: server.appRole,
        migrationsDir: this.context.tenantMigrationsDir,
        ...(input.ownerTenantId === undefined ? {} : { ownerTenantId: input.ownerTenantId }),
      });
      await catalog.setDatabaseStatus(input.id, 'ready');
      logger.info({ database: input.id, applied: migrated.applied.length, resuming }, 'database ready');
      return (await catalog.getDatabase(input.id))!;
    } catch (error) {
      logger.error({ database: input.id, err: error }, 'database create failed; removing it');
      await this.destroy(input.id).catch((cleanupError) =>
        logger.error({ database: input.id, err: cleanupError }, 'cleanup after failed create also failed'),
      );
      throw error;
    }
  }

  /** Drops the database on its server, then forgets it. Idempotent. */
  async destroy(databaseId: string): Promise<void> {
    const { catalog } = this.context;
    const database = await catalog.getDatabase(databaseId);
    if (!database) return;
    await catalog.setDatabaseStatus(databaseId, 'dropping');
    await withAdminClient(await catalog.serverAdminUrl(database.serverId), (client) =>
      dropDatabaseIfExists(client, database.databaseName),
    );
    await catalog.deleteDatabase(databaseId);
  }
}
