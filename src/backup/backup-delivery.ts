import { pipeline, type Readable, Transform } from 'node:stream';
import { BackupIntegrityError, ObjectExistsError } from '../errors/index.js';
import type { BackupRecord } from './backup-catalog.js';
import { type ContainerHeader, readContainer } from './backup-container.js';
import { RowDigest } from './drills/row-digest.js';
import { recordTableDigests } from './drills/table-digests.js';
import { createDecryptStream } from './envelope-format.js';
import { writeOnce } from './object-store.js';
import { RunningDigest } from './running-digest.js';
import { type BackupDeps, backupObjectKey, backupTenant } from './tenant-backup.js';
import type { TableProgress } from './tenant-export.js';

/**
 * Runs one delivery of a backup job, which may be the first, a retry, or a second delivery of a job that
 * BullMQ took for stalled while the first still runs. Whatever the order, a backup object is written once
 * and never replaced:
 *
 * - a backup whose row is `complete` is finished work: its row is the result, nothing is uploaded;
 * - the object is stored write-once (S3 `If-None-Match: *`, a hard link on file storage), so of two
 *   deliveries uploading at once only one stores it, and the other finds the row complete and answers
 *   with it;
 * - an object stored by an attempt that died before recording it is checked from end to end (key, header,
 *   every frame and row count) and recorded, instead of being replaced by a new snapshot.
 */
export async function deliverBackup(
  deps: BackupDeps,
  tenantId: string,
  backupId: string,
  options: { compress?: boolean; onProgress?: TableProgress } = {},
): Promise<BackupRecord> {
  const objectKey = backupObjectKey(tenantId, backupId);
  const known = await deps.backups.get(tenantId, backupId);
  if (known?.state === 'complete') return known;
  if (known?.state === 'pending' && (await deps.store.head(objectKey))) {
    return recordStoredBackup(deps, tenantId, backupId, objectKey);
  }
  try {
    return await backupTenant({ ...deps, store: writeOnce(deps.store) }, tenantId, backupId, options);
  } catch (error) {
    const now = await deps.backups.get(tenantId, backupId);
    // Another delivery finished it meanwhile: its object is the backup, this one stored nothing.
    if (now?.state === 'complete') return now;
    if (now?.state === 'failed') {
      // Given up meanwhile by another delivery: whatever this one stored there may go.
      await deps.backups.release(backupId, (backup) => deps.store.delete(backup.objectKey));
    } else if (now?.state === 'pending' && error instanceof ObjectExistsError) {
      return recordStoredBackup(deps, tenantId, backupId, objectKey);
    }
    throw error;
  }
}

/**
 * Records the object an earlier attempt (or a delivery running beside this one) stored for a pending
 * backup, once it is read through and found whole: what it holds is exactly what that attempt would have
 * recorded.
 */
async function recordStoredBackup(
  deps: BackupDeps,
  tenantId: string,
  backupId: string,
  objectKey: string,
): Promise<BackupRecord> {
  const { tableDigests, ...stored } = await inspectStoredBackup(deps, tenantId, backupId, objectKey);
  try {
    await recordTableDigests(deps.catalog.knex, backupId, tableDigests);
    return await deps.backups.complete(backupId, stored);
  } catch (error) {
    // The delivery that stored it recorded it first: the same object, so the same row.
    const now = await deps.backups.get(tenantId, backupId);
    if (now?.state === 'complete') return now;
    throw error;
  }
}

/** Decrypts and checks a stored backup object, answering what its catalog row must say about it. */
async function inspectStoredBackup(deps: BackupDeps, tenantId: string, backupId: string, objectKey: string) {
  const raw: Readable = await deps.store.get(objectKey);
  const digest = new RunningDigest();
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      digest.update(chunk);
      callback(null, chunk);
    },
  });
  let keyId: string | undefined;
  const decrypt = createDecryptStream({
    keys: deps.keys,
    expected: { tenantId, backupId },
    onHeader: (header) => {
      keyId = header.keyId;
    },
  });
  let header: ContainerHeader | undefined;
  let rowCounts: Record<string, number> | undefined;
  // The same rows the attempt that stored it read, so the same digests it would have recorded.
  const tableDigests: Record<string, string> = {};
  let table: { name: string; digest: RowDigest } | undefined;
  // The callback form returns the last stream; an error anywhere destroys it, which fails the iteration.
  const plaintext = pipeline(raw, tap, decrypt, () => {});
  try {
    for await (const record of readContainer(plaintext)) {
      if (record.kind === 'header') header = record.header;
      if (record.kind === 'table') table = { name: record.name, digest: new RowDigest() };
      if (record.kind === 'rows') table?.digest.update(record.data);
      if (record.kind === 'table-end' && table) tableDigests[table.name] = table.digest.digest();
      if (record.kind === 'trailer') rowCounts = record.tables;
    }
  } finally {
    raw.destroy();
  }
  if (!header || !rowCounts || keyId === undefined) {
    throw new BackupIntegrityError(`the stored object of backup ${backupId} is incomplete`);
  }
  if (header.tenantId !== tenantId || header.backupId !== backupId) {
    throw new BackupIntegrityError('the backup data names another tenant or backup');
  }
  return {
    sizeBytes: digest.size,
    sha256: digest.hex(),
    schemaVersion: header.schemaVersion,
    keyId,
    rowCounts,
    tableDigests,
  };
}
