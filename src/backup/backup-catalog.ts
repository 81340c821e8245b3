import type { Knex } from 'knex';
import { NotFoundError } from '../errors/index.js';

/** `deleting`: pruned, its object deleted or about to be; the row goes last (see src/backup/retention/). */
export type BackupState = 'pending' | 'complete' | 'failed' | 'deleting';

export interface BackupRecord {
  id: string;
  tenantId: string;
  state: BackupState;
  objectKey: string;
  sizeBytes: number | null;
  sha256: string | null;
  schemaVersion: string | null;
  keyId: string | null;
  rowCounts: Record<string, number> | null;
  createdAt: Date;
  completedAt: Date | null;
  error: string | null;
  /** Under a legal hold: never pruned while set. */
  held: boolean;
}

function toBackup(row: Record<string, unknown>): BackupRecord {
  return {
    id: row.id as string,
    tenantId: row.tenant_id as string,
    state: row.state as BackupState,
    objectKey: row.object_key as string,
    sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
    sha256: (row.sha256 as string | null) ?? null,
    schemaVersion: (row.schema_version as string | null) ?? null,
    keyId: (row.key_id as string | null) ?? null,
    rowCounts: (row.row_counts as Record<string, number> | null) ?? null,
    createdAt: row.created_at as Date,
    completedAt: (row.completed_at as Date | null) ?? null,
    error: (row.error as string | null) ?? null,
    held: row.held === true,
  };
}

/** The `backups` table: a backup is restorable only once its row says `complete`. */
export class BackupCatalog {
  constructor(private readonly knex: Knex) {}

  /** Creates the row, or puts a retried one back to pending; a complete backup is returned as it is. */
  async begin(backup: { id: string; tenantId: string; objectKey: string }): Promise<BackupRecord> {
    const [row] = await this.knex('backups')
      .insert({ id: backup.id, tenant_id: backup.tenantId, state: 'pending', object_key: backup.objectKey })
      .onConflict('id')
      .merge({
        state: this.knex.raw("CASE WHEN backups.state = 'complete' THEN 'complete' ELSE 'pending' END"),
        error: null,
      })
      .returning('*');
    return toBackup(row);
  }

  async complete(
    id: string,
    result: {
      sizeBytes: number;
      sha256: string;
      schemaVersion: string;
      keyId: string;
      rowCounts: Record<string, number>;
    },
  ): Promise<BackupRecord> {
    const [row] = await this.knex('backups')
      .where({ id, state: 'pending' })
      .update({
        state: 'complete',
        size_bytes: result.sizeBytes,
        sha256: result.sha256,
        schema_version: result.schemaVersion,
        key_id: result.keyId,
        row_counts: JSON.stringify(result.rowCounts),
        completed_at: this.knex.fn.now(),
        error: null,
      })
      .returning('*');
    if (!row) throw new NotFoundError(`backup ${id} is no longer pending`, 'backup_not_found');
    return toBackup(row);
  }

  async fail(id: string, error: string): Promise<void> {
    await this.knex('backups')
      .where({ id })
      .whereNot({ state: 'complete' })
      .update({ state: 'failed', error: error.slice(0, 2000) });
  }

  /**
   * Lets a backup's object go, only as its row allows: with `fail`, a backup that is not `complete` is
   * marked `failed` first; then, if the row is `failed`, `remove` runs (it deletes the object). The row
   * stays locked meanwhile, so no attempt can begin or complete it while its object is being deleted, and
   * a `complete` backup's object is never touched. Answers the row's state (undefined: there is no row, so
   * nothing was ever stored for it). A failure of `remove` is raised once the state change is committed.
   */
  async release(
    id: string,
    remove: (backup: BackupRecord) => Promise<void>,
    options: { fail?: string } = {},
  ): Promise<BackupState | undefined> {
    let removal: { error: unknown } | undefined;
    const state = await this.knex.transaction(async (trx) => {
      const row = await trx('backups').where({ id }).forUpdate().first();
      if (!row) return undefined;
      let backup = toBackup(row);
      if (backup.state !== 'complete' && options.fail !== undefined) {
        const [failed] = await trx('backups')
          .where({ id })
          .update({ state: 'failed', error: options.fail.slice(0, 2000) })
          .returning('*');
        backup = toBackup(failed);
      }
      if (backup.state === 'failed') {
        try {
          await remove(backup);
        } catch (error) {
          removal = { error };
        }
      }
      return backup.state;
    });
    if (removal) throw removal.error;
    return state;
  }

  async get(tenantId: string, id: string): Promise<BackupRecord | undefined> {
    const row = await this.knex('backups').where({ id, tenant_id: tenantId }).first();
    return row ? toBackup(row) : undefined;
  }

  /** The backup of this tenant with this id; another tenant's backup is not found, as if it did not exist. */
  async require(tenantId: string, id: string): Promise<BackupRecord> {
    const backup = await this.get(tenantId, id);
    if (!backup) throw new NotFoundError(`tenant ${tenantId} has no backup ${id}`, 'backup_not_found');
    return backup;
  }

  async list(tenantId: string): Promise<BackupRecord[]> {
    return (await this.knex('backups').where({ tenant_id: tenantId }).orderBy('created_at', 'desc')).map(
      toBackup,
    );
  }
}
