import type { Actor } from '../catalog/catalog.js';
import { BackupSchemaError, ConflictError, InvalidInputError, SQLSTATE } from '../errors/index.js';
import { assertSlug } from '../ids.js';
import { type FencePhase, type TenantFenceOptions, withTenantFenced } from '../moves/tenant-fence.js';
import { withAdminClient } from '../provisioning/admin-connection.js';
import type { TenantProvisioner } from '../provisioning/tenant-provisioner.js';
import { inTenantTransaction } from '../tenant-session/tenant-transaction.js';
import type { ContainerRecord } from './backup-container.js';
import { type BackupReadDeps, completeBackup, readBackup, readBackupHeader } from './backup-reader.js';
import { withScratchDatabase } from './scratch-database.js';
import { clearTenantRows, loadRecords, snapshotRecords } from './table-loader.js';
import type { BackupDeps } from './tenant-backup.js';
import type { TableProgress } from './tenant-export.js';
import { locateTenant, type TenantLocation } from './tenant-location.js';
import { appliedMigrations, withTenantSnapshot } from './tenant-snapshot.js';

export interface RestoreDeps extends BackupDeps, BackupReadDeps, TenantFenceOptions {
  tenants: TenantProvisioner;
  databasePrefix: string;
  migrationsDir: string;
}

export interface RestoreOptions {
  /** Restore into this new tenant instead of replacing the backup's own tenant. */
  into?: string;
  /** The new tenant's tier (needed with `into`). */
  tier?: string;
  actor: Actor;
  onProgress?: TableProgress;
  /** When the target's writes are paused for the load and given back (see withTenantFenced). */
  onFence?: (phase: FencePhase) => void;
}

export interface RestoreResult {
  tenantId: string;
  backupId: string;
  restoredInto: string;
  migratedForward: boolean;
  tables: Record<string, number>;
}

/**
 * Restores a tenant from a backup. Its header is read first (key, header, first frames): the schema it was
 * taken at decides how it loads. Then it is loaded in ONE transaction into the target, replacing the
 * target's rows, and checked as it loads (frames, order, row counts, the object's SHA-256), the transaction
 * committing only once the whole backup has checked out: a failure at any point, a damaged backup included,
 * leaves the target as it was. The backup is read once, not once to verify and again to load. A backup
 * taken at an older schema is loaded into a scratch database at that schema, migrated forward there, then
 * copied into the target.
 *
 * The load runs fenced (withTenantFenced): the target is paused, its writers drained, and its moves kept
 * out, so no write made during the load survives the replace and none lands on a placement it just left.
 */
export async function restoreTenant(
  deps: RestoreDeps,
  tenantId: string,
  backupId: string,
  options: RestoreOptions,
): Promise<RestoreResult> {
  assertSlug(tenantId);
  if (options.into !== undefined) {
    assertSlug(options.into);
    if (!options.tier)
      throw new InvalidInputError('restoring into a new tenant needs a tier', 'missing_tier');
    if (await deps.catalog.getTenant(options.into)) {
      throw new ConflictError(`tenant ${options.into} already exists`, 'tenant_exists');
    }
  }
  const backup = await completeBackup(deps, tenantId, backupId);
  const header = await readBackupHeader(deps, backup);
  const targetId = options.into ?? tenantId;
  let created = false;
  if (options.into !== undefined) {
    await deps.tenants.create({ id: options.into, tier: options.tier! }, options.actor);
    created = true;
  }
  try {
    const target = await locateTenant(deps.catalog, targetId);
    const targetMigrations = await withAdminClient(target.adminUrl, appliedMigrations);
    const backupMigrations = header.migrations;
    const same = backupMigrations.join('\n') === targetMigrations.join('\n');
    const older =
      backupMigrations.length < targetMigrations.length &&
      backupMigrations.every((name, index) => targetMigrations[index] === name);
    if (!same && !older) {
      throw new BackupSchemaError(
        `backup ${backupId} is at schema ${header.schemaVersion || '(none)'}, which ${target.databaseId} (at ${targetMigrations.at(-1) ?? '(none)'}) cannot take`,
      );
    }
    const source = (load: (records: AsyncIterable<ContainerRecord>) => Promise<Record<string, number>>) =>
      same
        ? load(readBackup(deps, backup, { catalogCounts: true }))
        : withScratchDatabase(
            {
              catalog: deps.catalog,
              serverId: target.serverId,
              databasePrefix: deps.databasePrefix,
              migrationsDir: deps.migrationsDir,
              // Migrations that touch rows see the backup's only as its tenant (row-level security is
              // forced for the admin role too, unless it is a superuser).
              tenantId,
            },
            async (scratch) => {
              await scratch.migrate(header.schemaVersion);
              await withAdminClient(scratch.adminUrl, (client) =>
                inTenantTransaction(client, tenantId, async () => {
                  // The scratch database is the tenant's alone, like a dedicated one: its indexes are
                  // built once after the load rather than row by row.
                  const cleared = await clearTenantRows(client, 'dedicated', tenantId);
                  await loadRecords(client, readBackup(deps, backup, { catalogCounts: true }), {
                    tenantId,
                    sourceTenantId: tenantId,
                    exclusive: true,
                    freezable: cleared.freezable,
                  });
                  await cleared.rebuildIndexes();
                }),
              );
              await scratch.migrate();
              const location: TenantLocation = { ...target, tenantId, adminUrl: scratch.adminUrl };
              return withTenantSnapshot(location, (snapshot) => load(snapshotRecords(snapshot)));
            },
          );
    const tables = await source((records) =>
      withTenantFenced(
        deps,
        targetId,
        target.databaseId,
        (beforeCommit) => loadInto(target, records, tenantId, options.onProgress, beforeCommit),
        options.onFence,
      ),
    );
    await deps.catalog.audit(options.actor, 'tenant.restore', targetId, {
      backupId,
      from: tenantId,
      migratedForward: !same,
    });
    return { tenantId, backupId, restoredInto: targetId, migratedForward: !same, tables };
  } catch (error) {
    if (created) {
      await deps.tenants.delete({ id: targetId, confirm: targetId }, options.actor).catch(() => {});
    }
    if (options.into !== undefined && (error as { code?: unknown }).code === SQLSTATE.uniqueViolation) {
      // Row ids are kept, so a copy cannot share a shard with rows it was taken from.
      throw new ConflictError(
        `the backup's row ids already exist where ${options.into} was placed; restore into a tier on another database`,
        'restore_ids_collide',
      );
    }
    throw error;
  }
}

/** Replaces the target's rows with the records, all in one transaction, which commits after `beforeCommit`. */
function loadInto(
  target: TenantLocation,
  records: AsyncIterable<ContainerRecord>,
  sourceTenantId: string,
  onProgress: TableProgress | undefined,
  beforeCommit: () => Promise<void>,
): Promise<Record<string, number>> {
  return withAdminClient(target.adminUrl, (client) =>
    inTenantTransaction(client, target.tenantId, async () => {
      const cleared = await clearTenantRows(client, target.placement, target.tenantId);
      const counts = await loadRecords(client, records, {
        tenantId: target.tenantId,
        sourceTenantId,
        // A dedicated database's tables are the tenant's alone, and locked by the truncate already.
        exclusive: target.placement === 'dedicated',
        freezable: cleared.freezable,
        ...(onProgress ? { onProgress } : {}),
      });
      await cleared.rebuildIndexes();
      await beforeCommit();
      return counts;
    }),
  );
}
