import type { Actor, Catalog } from '../../catalog/catalog.js';
import { ConflictError } from '../../errors/index.js';
import { assertSlug } from '../../ids.js';
import type { BackupCatalog, BackupRecord } from '../backup-catalog.js';
import { assertArchiveId } from '../backup-operations.js';

/**
 * Sets or releases a backup's legal hold, audited `tenant.backup.hold` / `tenant.backup.release`. A held
 * backup is never pruned. A backup already being pruned (`deleting`) cannot be held: 409
 * `backup_not_complete`. Another tenant's backup id is 404 `backup_not_found`.
 */
export async function setBackupHold(
  deps: { catalog: Catalog; backups: BackupCatalog },
  tenantId: string,
  backupId: string,
  held: boolean,
  actor: Actor,
): Promise<BackupRecord> {
  assertSlug(tenantId);
  assertArchiveId(backupId);
  await deps.backups.require(tenantId, backupId);
  const changed = await deps.catalog
    .knex('backups')
    .where({ id: backupId, tenant_id: tenantId })
    .whereNot({ state: 'deleting' })
    .update({ held });
  if (changed === 0) {
    throw new ConflictError(`backup ${backupId} is being deleted`, 'backup_not_complete');
  }
  await deps.catalog.audit(actor, held ? 'tenant.backup.hold' : 'tenant.backup.release', tenantId, {
    backupId,
  });
  return deps.backups.require(tenantId, backupId);
}
