import { Readable } from 'node:stream';
import type { Catalog } from '../catalog/catalog.js';
import { assertSlug } from '../ids.js';
import type { BackupCatalog, BackupRecord } from './backup-catalog.js';
import { writeContainer } from './backup-container.js';
import { DEFAULT_ROW_CODEC } from './codec/row-codecs.js';
import { RowDigest } from './drills/row-digest.js';
import { recordTableDigests } from './drills/table-digests.js';
import { createEncryptStream } from './envelope-format.js';
import type { KeyProvider } from './key-provider.js';
import type { ObjectStore } from './object-store.js';
import { uploadStream } from './store-upload.js';
import type { TableProgress } from './tenant-export.js';
import { locateTenant } from './tenant-location.js';
import { type TenantSnapshot, withTenantSnapshot } from './tenant-snapshot.js';

export interface BackupDeps {
  catalog: Catalog;
  backups: BackupCatalog;
  store: ObjectStore;
  keys: KeyProvider;
}

export function backupObjectKey(tenantId: string, backupId: string): string {
  return `backups/${assertSlug(tenantId)}/${backupId}.tpbk`;
}

/** The snapshot's tables as the container takes them; each table's digest goes into `digests` at its end. */
async function* tablesOf(
  snapshot: TenantSnapshot,
  digests: Record<string, string>,
  onProgress?: TableProgress,
) {
  for (const table of snapshot.tables) {
    const rows = snapshot.copy(table, 'text');
    let bytes = 0;
    yield {
      name: table.name,
      columns: table.columns,
      rows: (async function* () {
        const digest = new RowDigest();
        for await (const chunk of rows as AsyncIterable<Buffer>) {
          bytes += chunk.length;
          digest.update(chunk);
          yield chunk;
        }
        digests[table.name] = digest.digest();
        onProgress?.({ table: table.name, rows: rows.rowCount, bytes });
      })(),
      rowCount: () => rows.rowCount,
    };
  }
}

/**
 * Backs one tenant up: a repeatable-read snapshot streamed through the container format, encrypted with a
 * fresh data key bound to the tenant and backup id, and stored in one all-or-nothing upload. The catalog row
 * is `pending` throughout and becomes `complete` only after the object is stored, with its size and
 * SHA-256, and a digest of each table's rows that restore drills check (src/backup/drills/). Running it again for a pending backup (a retry after a crash) redoes it under the same key.
 *
 * Rows are compressed (DEFAULT_ROW_CODEC, named in the container header) unless `compress` is false.
 */
export async function backupTenant(
  deps: BackupDeps,
  tenantId: string,
  backupId: string,
  options: { compress?: boolean; onProgress?: TableProgress } = {},
): Promise<BackupRecord> {
  const location = await locateTenant(deps.catalog, tenantId);
  const objectKey = backupObjectKey(tenantId, backupId);
  const record = await deps.backups.begin({ id: backupId, tenantId, objectKey });
  if (record.state === 'complete') return record;
  return withTenantSnapshot(location, async (snapshot) => {
    const { stream: encrypt, header } = await createEncryptStream({
      keys: deps.keys,
      tenantId,
      backupId,
      schemaVersion: snapshot.schemaVersion,
    });
    const rowCounts: Record<string, number> = {};
    const digests: Record<string, string> = {};
    const container = writeContainer(
      {
        tenantId,
        backupId,
        schemaVersion: snapshot.schemaVersion,
        migrations: snapshot.migrations,
        createdAt: new Date().toISOString(),
      },
      tablesOf(snapshot, digests, (progress) => {
        rowCounts[progress.table] = progress.rows;
        options.onProgress?.(progress);
      }),
      { codec: (options.compress ?? true) ? DEFAULT_ROW_CODEC : undefined },
    );
    const stored = await uploadStream(deps.store, objectKey, Readable.from(container), [encrypt]);
    // On the pending row, so a complete backup always has them (a retry records its own again).
    await recordTableDigests(deps.catalog.knex, backupId, digests);
    return deps.backups.complete(backupId, {
      sizeBytes: stored.size,
      sha256: stored.sha256,
      schemaVersion: snapshot.schemaVersion,
      keyId: header.keyId,
      rowCounts,
    });
  });
}
