import pg from 'pg';
import { copyRowsById, streamRows, tenantLiteral } from './row-copier.js';
import type { TableLayout } from './table-layout.js';

const SAFE_BUCKET = /^[0-9a-f]{1,4}$/;

export interface ResyncCount {
  /** Rows removed from the target: deleted on the source since the copy, or changed (and copied again). */
  removed: number;
  /** Rows copied: new on the source since the copy, or changed. */
  copied: number;
}

/**
 * Per bucket, the number of the tenant's rows and a digest of their content in id order. Computed inside
 * the database, so only 4096 short lines come back however large the tenant is.
 */
export async function bucketDigests(
  client: pg.Client,
  tenantId: string,
  layout: TableLayout,
): Promise<Map<string, string>> {
  const tenant = tenantLiteral(tenantId);
  const { rows } = await client.query<{ bucket: string; digest: string }>(
    `SELECT ${layout.bucket('')} AS bucket, ${layout.digest} AS digest
       FROM ${layout.table} WHERE tenant_id = ${tenant} GROUP BY 1`,
  );
  return new Map(rows.map((row) => [row.bucket, row.digest]));
}

/**
 * Makes the target's rows of the tenant in one table equal to the source's, moving only what differs.
 *
 * Both sides first digest their rows in 4096 buckets by id (at the same time, each in its own database);
 * only the buckets whose digests differ are looked at row by row. For those, the source's `(id, row hash)`
 * pairs stream into a temporary table on the target, which deletes its rows that are missing or differ;
 * then only the rows it lacks are copied from the source. Inserts, updates and deletes are all
 * caught, for any table with an `id` key, without relying on timestamps the application may not maintain.
 *
 * Both clients must be inside transactions acting as the tenant, with the same TimeZone and DateStyle so
 * that a row renders (and hashes) the same on both sides; the source's should be a REPEATABLE READ snapshot.
 */
export async function resyncTable(
  source: pg.Client,
  target: pg.Client,
  tenantId: string,
  layout: TableLayout,
  /** The target's digests, when already known (the target has not changed since). */
  targetDigests?: Map<string, string>,
): Promise<ResyncCount> {
  const tenant = tenantLiteral(tenantId);
  const [theirs, ours] = await Promise.all([
    bucketDigests(source, tenantId, layout),
    targetDigests ?? bucketDigests(target, tenantId, layout),
  ]);
  const differing = [...new Set([...theirs.keys(), ...ours.keys()])].filter(
    (bucket) => theirs.get(bucket) !== ours.get(bucket),
  );
  if (differing.length === 0) return { removed: 0, copied: 0 };
  // Buckets are short hex or decimal (checked), as one escaped array literal: COPY takes no parameters.
  if (!differing.every((bucket) => SAFE_BUCKET.test(bucket))) throw new Error('unexpected bucket');
  const inBuckets = (prefix: string) =>
    `${layout.bucket(prefix)} = ANY(${pg.escapeLiteral(`{${differing.join(',')}}`)}::text[])`;

  await target.query(
    `CREATE TEMPORARY TABLE tp_move_source_rows (id ${layout.idType} PRIMARY KEY, hash text NOT NULL) ON COMMIT DROP`,
  );
  try {
    await streamRows(
      source,
      `SELECT id, ${layout.rowHash('')} FROM ${layout.table}
        WHERE tenant_id = ${tenant} AND ${inBuckets('')}`,
      target,
      'tp_move_source_rows (id, hash)',
    );
    const removed = await target.query(
      `DELETE FROM ${layout.table} AS t WHERE t.tenant_id = ${tenant} AND ${inBuckets('t.')} AND NOT EXISTS (
         SELECT 1 FROM tp_move_source_rows AS s WHERE s.id = t.id AND s.hash = ${layout.rowHash('t.')})`,
    );
    const missing = await target.query<{ id: string }>(
      `SELECT s.id::text AS id FROM tp_move_source_rows AS s WHERE NOT EXISTS (
         SELECT 1 FROM ${layout.table} AS t WHERE t.tenant_id = ${tenant} AND t.id = s.id)`,
    );
    const ids = missing.rows.map((row) => row.id);
    // The pause is no time to lock a table: copyRowsById stages the rows when row-level security binds.
    const copied = ids.length === 0 ? 0 : await copyRowsById(source, target, tenantId, layout, ids);
    return { removed: removed.rowCount ?? 0, copied };
  } finally {
    // ON COMMIT DROP covers the usual path; this lets the next table of the same transaction reuse the name.
    await target.query('DROP TABLE IF EXISTS tp_move_source_rows').catch(() => {});
  }
}
