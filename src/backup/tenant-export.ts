import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { Catalog } from '../catalog/catalog.js';
import { assertSlug } from '../ids.js';
import type { ObjectStore } from './object-store.js';
import { uploadStream } from './store-upload.js';
import { locateTenant } from './tenant-location.js';
import { withTenantSnapshot } from './tenant-snapshot.js';

export interface ExportedTable {
  name: string;
  columns: string[];
  rows: number;
  /** Object key of the gzipped NDJSON, relative to the store. */
  key: string;
  bytes: number;
  sha256: string;
}

/** Written last, so an export without its manifest is unfinished. */
export interface ExportManifest {
  format: 'tenantplane-export';
  version: 1;
  tenantId: string;
  exportId: string;
  createdAt: string;
  schemaVersion: string;
  migrations: string[];
  tables: ExportedTable[];
}

export interface ExportResult {
  exportId: string;
  location: string;
  manifestKey: string;
  manifest: ExportManifest;
}

/** Progress after each table: rows and stored bytes so far. */
export type TableProgress = (progress: { table: string; rows: number; bytes: number }) => void;

/** A sortable, unique id for an export or a backup: UTC time then randomness, e.g. 20261124t041500z-3f9a1c2b. */
export function newArchiveId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'z')
    .toLowerCase();
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

/** Where all of a tenant's exports to the backup store are (the trailing '/' keeps `acme-co` out of `acme`). */
export function tenantExportsPrefix(tenantId: string): string {
  return `exports/${assertSlug(tenantId)}/`;
}

export function exportPrefix(tenantId: string, exportId: string): string {
  return `${tenantExportsPrefix(tenantId)}${exportId}/`;
}

/**
 * Writes one tenant's rows, table by table, as gzipped NDJSON with a manifest, under a key built from the
 * tenant id. A shard tenant and a dedicated tenant export the same way: only rows with its tenant_id.
 */
export async function exportTenant(
  deps: { catalog: Catalog; store: ObjectStore },
  tenantId: string,
  options: { exportId: string; onProgress?: TableProgress },
): Promise<ExportResult> {
  const location = await locateTenant(deps.catalog, tenantId);
  const prefix = exportPrefix(tenantId, options.exportId);
  const manifest = await withTenantSnapshot(location, async (snapshot) => {
    const tables: ExportedTable[] = [];
    for (const table of snapshot.tables) {
      const key = `${prefix}${table.name}.ndjson.gz`;
      const rows = snapshot.copy(table, 'ndjson');
      const stored = await uploadStream(deps.store, key, rows, [createGzip({ level: 6 })]);
      tables.push({
        name: table.name,
        columns: table.columns,
        rows: rows.rowCount,
        key,
        bytes: stored.size,
        sha256: stored.sha256,
      });
      options.onProgress?.({ table: table.name, rows: rows.rowCount, bytes: stored.size });
    }
    return {
      format: 'tenantplane-export',
      version: 1,
      tenantId,
      exportId: options.exportId,
      createdAt: new Date().toISOString(),
      schemaVersion: snapshot.schemaVersion,
      migrations: snapshot.migrations,
      tables,
    } satisfies ExportManifest;
  });
  const manifestKey = `${prefix}manifest.json`;
  await uploadStream(
    deps.store,
    manifestKey,
    Readable.from([Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`)]),
  );
  return { exportId: options.exportId, location: deps.store.location, manifestKey, manifest };
}
