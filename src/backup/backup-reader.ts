import { createHash } from 'node:crypto';
import { pipeline, type Readable, Transform } from 'node:stream';
import { BackupIntegrityError, ConflictError } from '../errors/index.js';
import type { BackupCatalog, BackupRecord } from './backup-catalog.js';
import { type ContainerHeader, type ContainerRecord, readContainer } from './backup-container.js';
import { createDecryptStream } from './envelope-format.js';
import type { KeyProvider } from './key-provider.js';
import type { ObjectStore } from './object-store.js';

export interface BackupReadDeps {
  backups: BackupCatalog;
  store: ObjectStore;
  keys: KeyProvider;
}

export interface VerifiedBackup {
  backup: BackupRecord;
  header: ContainerHeader;
  tables: Record<string, number>;
}

/** The catalog row of a complete backup of this tenant; pending and failed backups cannot be read. */
export async function completeBackup(deps: BackupReadDeps, tenantId: string, backupId: string) {
  const backup = await deps.backups.require(tenantId, backupId);
  if (backup.state !== 'complete') {
    throw new ConflictError(`backup ${backupId} is ${backup.state}, not complete`, 'backup_not_complete');
  }
  return backup;
}

/**
 * Decrypts a backup object and yields its container records, each checked as it passes: the header against
 * the catalog row (tenant, backup, schema version) as it arrives, and with `catalogCounts` the trailer's
 * row counts against the catalog's (a drill compares them table by table itself). Once the iteration ends
 * cleanly, the object's size and SHA-256 are checked against the catalog too, so a consumer must treat
 * everything as provisional until then (restore loads inside a transaction it commits only then).
 * `headerOnly` stops after the header, which checks the key and the first frames alone.
 */
export async function* readBackup(
  deps: BackupReadDeps,
  backup: BackupRecord,
  options: { headerOnly?: boolean; catalogCounts?: boolean } = {},
): AsyncGenerator<ContainerRecord> {
  const raw: Readable = await deps.store.get(backup.objectKey);
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  const decrypt = createDecryptStream({
    keys: deps.keys,
    expected: { tenantId: backup.tenantId, backupId: backup.id },
  });
  // The callback form returns the last stream; an error anywhere destroys it, which fails the iteration.
  const plaintext = pipeline(raw, tap, decrypt, () => {});
  try {
    for await (const record of readContainer(plaintext)) {
      if (record.kind === 'header') {
        checkHeader(backup, record.header);
        yield record;
        if (options.headerOnly) return;
        continue;
      }
      if (record.kind === 'trailer' && options.catalogCounts && backup.rowCounts) {
        checkCounts(backup.rowCounts, record.tables);
      }
      yield record;
    }
  } finally {
    raw.destroy();
  }
  const sha256 = hash.digest('hex');
  if (size !== backup.sizeBytes || sha256 !== backup.sha256) {
    throw new BackupIntegrityError(
      `the stored object (${size} bytes, sha256 ${sha256}) is not the one recorded for backup ${backup.id}`,
    );
  }
}

function checkHeader(backup: BackupRecord, header: ContainerHeader): void {
  if (header.tenantId !== backup.tenantId || header.backupId !== backup.id) {
    throw new BackupIntegrityError('the backup data names another tenant or backup');
  }
  if (header.schemaVersion !== backup.schemaVersion) {
    throw new BackupIntegrityError('the backup data and the catalog disagree on its schema version');
  }
}

/**
 * A backup's container header, read from its first frames (key, header and those frames authenticated):
 * what a restore needs to decide how to load it. The rest is checked as it loads (readBackup).
 */
export async function readBackupHeader(deps: BackupReadDeps, backup: BackupRecord): Promise<ContainerHeader> {
  for await (const record of readBackup(deps, backup, { headerOnly: true })) {
    if (record.kind === 'header') return record.header;
  }
  throw new BackupIntegrityError('the backup has no header');
}

/** Reads a whole backup and checks everything (key, header, frames, order, row counts, digest), writing nothing. */
export async function verifyBackup(
  deps: BackupReadDeps,
  tenantId: string,
  backupId: string,
): Promise<VerifiedBackup> {
  const backup = await completeBackup(deps, tenantId, backupId);
  let header: ContainerHeader | undefined;
  let tables: Record<string, number> | undefined;
  for await (const record of readBackup(deps, backup, { catalogCounts: true })) {
    if (record.kind === 'header') header = record.header;
    if (record.kind === 'trailer') tables = record.tables;
  }
  // readContainer ends only after a header and a trailer; this states it for the compiler.
  if (!header || !tables) throw new BackupIntegrityError('the backup has no header or trailer');
  return { backup, header, tables };
}

/** jsonb keeps its own key order, so counts are compared table by table. */
function checkCounts(catalog: Record<string, number>, data: Record<string, number>): void {
  const tables = [...new Set([...Object.keys(catalog), ...Object.keys(data)])].sort();
  const differ = tables.filter((table) => catalog[table] !== data[table]);
  if (differ.length > 0) {
    throw new BackupIntegrityError(
      `the backup data and the catalog disagree on its row counts: ${differ
        .map(
          (table) =>
            `${table} (${data[table] ?? 'none'} in the data, ${catalog[table] ?? 'none'} in the catalog)`,
        )
        .join(', ')}`,
    );
  }
}
