import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Placement } from '../catalog/records.js';
import { assertSlug, quoteIdent } from '../ids.js';
import { tenantTables } from '../provisioning/tenant-database.js';
import type { ContainerRecord } from './backup-container.js';
import { BackupIntegrityError } from './envelope-format.js';
import type { TableProgress } from './tenant-export.js';
import type { TenantSnapshot } from './tenant-snapshot.js';

const STAGING_TABLE = 'tenantplane_restore_rows';

/**
 * Removes a tenant's rows ahead of a restore, inside the caller's transaction: on a shard only its rows,
 * in a dedicated database every tenant table (they hold nothing else), which TRUNCATE does fastest.
 */
export async function clearTenantRows(client: pg.Client, placement: Placement, tenantId: string) {
  const tables = await tenantTables(client);
  if (tables.length === 0) return;
  if (placement === 'dedicated') {
    await client.query(`TRUNCATE ${tables.map(quoteIdent).join(', ')}`);
    return;
  }
  for (const table of tables) {
    await client.query(`DELETE FROM ${quoteIdent(table)} WHERE tenant_id = $1`, [assertSlug(tenantId)]);
  }
}

/**
 * Loads container records (from a backup, or from a scratch database's snapshot) into the tables the
 * client sees, inside the caller's transaction, checking each table's row count. When the rows belong to
 * another tenant id (a restore `--into` a new tenant) they pass through a staging table that rewrites it.
 */
export async function loadRecords(
  client: pg.Client,
  records: AsyncIterable<ContainerRecord>,
  options: { tenantId: string; sourceTenantId: string; onProgress?: TableProgress },
): Promise<Record<string, number>> {
  const rewrite = options.tenantId !== options.sourceTenantId;
  const counts: Record<string, number> = {};
  let copy: ReturnType<typeof copyFrom> | undefined;
  let table = '';
  let columns: string[] = [];
  let bytes = 0;
  try {
    await loadEach();
  } catch (error) {
    // Makes PostgreSQL abandon the COPY (CopyFail), so the caller's ROLLBACK finds a usable connection.
    copy?.destroy(error as Error);
    throw error;
  }
  return counts;

  async function loadEach(): Promise<void> {
    for await (const record of records) {
      if (record.kind === 'table') {
        table = record.name;
        columns = record.columns;
        bytes = 0;
        const list = columns.map(quoteIdent).join(', ');
        let into = quoteIdent(table);
        if (rewrite) {
          await client.query(
            `CREATE TEMP TABLE ${STAGING_TABLE} (LIKE public.${quoteIdent(table)} INCLUDING DEFAULTS) ON COMMIT DROP`,
          );
          into = STAGING_TABLE;
        }
        copy = client.query(copyFrom(`COPY ${into} (${list}) FROM STDIN`));
      } else if (record.kind === 'rows') {
        if (!copy) throw new BackupIntegrityError('rows outside a table');
        bytes += record.data.length;
        if (!copy.write(record.data)) await Promise.race([once(copy, 'drain'), finished(copy)]);
      } else if (record.kind === 'table-end') {
        if (!copy) throw new BackupIntegrityError('a table ends that never started');
        copy.end();
        await finished(copy);
        if (copy.rowCount !== record.rows) {
          throw new BackupIntegrityError(
            `table ${table}: loaded ${copy.rowCount} rows, expected ${record.rows}`,
          );
        }
        copy = undefined;
        if (rewrite) {
          const select = columns
            .map((column) => (column === 'tenant_id' ? '$1' : quoteIdent(column)))
            .join(', ');
          await client.query(
            `INSERT INTO ${quoteIdent(table)} (${columns.map(quoteIdent).join(', ')}) SELECT ${select} FROM ${STAGING_TABLE}`,
            [assertSlug(options.tenantId)],
          );
          await client.query(`DROP TABLE ${STAGING_TABLE}`);
        }
        counts[table] = record.rows;
        options.onProgress?.({ table, rows: record.rows, bytes });
      }
    }
    if (copy) throw new BackupIntegrityError(`the rows of ${table} end early`);
  }
}

/** A snapshot as container records: how data migrated in a scratch database reaches the target. */
export async function* snapshotRecords(snapshot: TenantSnapshot): AsyncGenerator<ContainerRecord> {
  for (const table of snapshot.tables) {
    yield { kind: 'table', name: table.name, columns: table.columns };
    const rows = snapshot.copy(table, 'text');
    for await (const data of rows as AsyncIterable<Buffer>) yield { kind: 'rows', data };
    yield { kind: 'table-end', rows: rows.rowCount };
  }
}
