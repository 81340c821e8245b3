import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Placement } from '../catalog/records.js';
import { BackupIntegrityError } from '../errors/index.js';
import { assertSlug, quoteIdent } from '../ids.js';
import { type BulkLoad, beginBulkLoad } from '../provisioning/tenant-bulk-load.js';
import { tenantTables } from '../provisioning/tenant-database.js';
import type { ContainerRecord } from './backup-container.js';
import type { TableProgress } from './tenant-export.js';
import type { TenantSnapshot } from './tenant-snapshot.js';

/** What clearTenantRows did, and what to run once the rows are loaded. */
export interface ClearedRows {
  /**
   * Tables truncated in the caller's transaction, which COPY may therefore fill with rows already frozen
   * (`COPY … FREEZE`): the index builds and the first reads after the restore then skip the per-row
   * commit checks and hint-bit writes (about 5-10% of a restore's time). Like the TRUNCATE itself, this
   * shows the new rows to transactions older than the restore, which the fence keeps away.
   */
  freezable: ReadonlySet<string>;
  /** Builds the indexes the clearing dropped (nothing when it dropped none). */
  rebuildIndexes(): Promise<void>;
}

/**
 * Removes a tenant's rows ahead of a restore, inside the caller's transaction: on a shard only its rows,
 * in a dedicated (or scratch) database every tenant table (they hold nothing else), which TRUNCATE does
 * fastest, dropping their indexes until the load is done.
 */
export async function clearTenantRows(
  client: pg.Client,
  placement: Placement,
  tenantId: string,
): Promise<ClearedRows> {
  const tables = await tenantTables(client);
  if (tables.length === 0 || placement === 'shard') {
    for (const table of tables) {
      await client.query(`DELETE FROM ${quoteIdent(table)} WHERE tenant_id = $1`, [assertSlug(tenantId)]);
    }
    return { freezable: new Set(), rebuildIndexes: async () => {} };
  }
  await client.query(`TRUNCATE ${tables.map(quoteIdent).join(', ')}`);
  // COPY FREEZE takes plain tables only (not a partitioned parent).
  const plain = await client.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relname = ANY($1) AND c.relkind = 'r'`,
    [tables],
  );
  return {
    freezable: new Set(plain.rows.map((row) => row.name)),
    rebuildIndexes: await deferIndexes(client, tables),
  };
}

/**
 * Drops the indexes (and the primary keys and unique constraints no foreign key depends on) of emptied
 * tables and returns a function that builds them again: one sort per index after the load is several
 * times faster than maintaining it row by row, which is how pg_restore does it too. Everything happens
 * in the caller's transaction, so a failed restore keeps the indexes as they were.
 */
async function deferIndexes(client: pg.Client, tables: string[]): Promise<() => Promise<void>> {
  const constraints = await client.query<{ name: string; table: string; definition: string }>(
    `SELECT c.conname AS name, t.relname AS table, pg_get_constraintdef(c.oid) AS definition
       FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = 'public' AND t.relname = ANY($1) AND c.contype IN ('p', 'u')
        AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.confrelid = c.conrelid)`,
    [tables],
  );
  const indexes = await client.query<{ name: string; definition: string }>(
    `SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = 'public' AND t.relname = ANY($1)
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`,
    [tables],
  );
  for (const index of indexes.rows) await client.query(`DROP INDEX public.${quoteIdent(index.name)}`);
  for (const constraint of constraints.rows) {
    await client.query(
      `ALTER TABLE public.${quoteIdent(constraint.table)} DROP CONSTRAINT ${quoteIdent(constraint.name)}`,
    );
  }
  return async () => {
    await client.query("SET LOCAL maintenance_work_mem = '256MB'");
    // Definitions come from PostgreSQL's own catalog (pg_get_*def), not from the backup.
    for (const constraint of constraints.rows) {
      await client.query(
        `ALTER TABLE public.${quoteIdent(constraint.table)} ADD CONSTRAINT ${quoteIdent(constraint.name)} ${constraint.definition}`,
      );
    }
    for (const index of indexes.rows) await client.query(index.definition);
  };
}

/**
 * Loads container records (from a backup, or from a scratch database's snapshot) into the tables the
 * client sees, inside the caller's transaction, which acts as `tenantId`, checking each table's row count.
 * Each table is loaded the way the admin role may (see BulkLoadPath): straight in when row-level security
 * does not bind it; else staged through a temporary table, or, in a database that is the tenant's alone
 * (`exclusive`), straight in with FORCE lifted for the transaction. Rows of another tenant id (a restore
 * `--into` a new tenant) are always staged, which rewrites the id.
 */
export async function loadRecords(
  client: pg.Client,
  records: AsyncIterable<ContainerRecord>,
  options: {
    tenantId: string;
    sourceTenantId: string;
    /** The database holds no other tenant's rows and the transaction may lock its tables (never a shard). */
    exclusive: boolean;
    /** Tables truncated in this transaction (ClearedRows.freezable): rows COPYed straight in go in frozen. */
    freezable?: ReadonlySet<string>;
    onProgress?: TableProgress;
  },
): Promise<Record<string, number>> {
  const rewrite = options.tenantId !== options.sourceTenantId;
  const counts: Record<string, number> = {};
  let copy: ReturnType<typeof copyFrom> | undefined;
  /** The error the COPY in progress failed with, if the server ended it. */
  let copyFailure: Error | undefined;
  let load: BulkLoad | undefined;
  let table = '';
  let bytes = 0;
  try {
    await loadEach();
  } catch (error) {
    // Makes PostgreSQL abandon the COPY (CopyFail), so the caller's ROLLBACK finds a usable connection; a
    // COPY the server already ended has nothing to abandon (and no connection left to send it on).
    if (!copyFailure) copy?.destroy(error as Error);
    throw error;
  }
  return counts;

  /** Throws the error the COPY in progress failed with, if it did. */
  function throwIfCopyFailed(): void {
    if (copyFailure) throw copyFailure;
  }

  async function loadEach(): Promise<void> {
    for await (const record of records) {
      if (record.kind === 'table') {
        table = record.name;
        bytes = 0;
        load = await beginBulkLoad(client, {
          table,
          columns: record.columns.map(quoteIdent).join(', '),
          tenantId: options.tenantId,
          exclusive: options.exclusive,
          ...(rewrite
            ? {
                select: record.columns
                  .map((column) => (column === 'tenant_id' ? '$1' : quoteIdent(column)))
                  .join(', '),
              }
            : {}),
        });
        copyFailure = undefined;
        const freeze = load.path !== 'staged' && options.freezable?.has(table) === true;
        copy = client.query(copyFrom(`COPY ${load.copyInto} FROM STDIN${freeze ? ' WITH (FREEZE)' : ''}`));
        // The server may end the COPY (its session terminated, a shutdown) while this loop waits for the
        // backup's next record, when nothing else listens to the stream: an 'error' event without a listener
        // would end the process. The error is kept and thrown at the next write or end instead.
        copy.on('error', (error: Error) => {
          copyFailure ??= error;
        });
      } else if (record.kind === 'rows') {
        if (!copy) throw new BackupIntegrityError('rows outside a table');
        throwIfCopyFailed();
        bytes += record.data.length;
        // once() rejects when the stream emits an error instead.
        if (!copy.write(record.data)) await once(copy, 'drain');
      } else if (record.kind === 'table-end') {
        if (!copy || !load) throw new BackupIntegrityError('a table ends that never started');
        throwIfCopyFailed();
        copy.end();
        await finished(copy);
        if (copy.rowCount !== record.rows) {
          throw new BackupIntegrityError(
            `table ${table}: loaded ${copy.rowCount} rows, expected ${record.rows}`,
          );
        }
        copy = undefined;
        await load.finish();
        load = undefined;
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
