import pg from 'pg';
import { streamRows, tenantLiteral } from './row-copier.js';
import type { TableLayout } from './table-layout.js';

/** Ids fetched per COPY when bringing changed rows over; keeps each statement a sane size. */
const IDS_PER_COPY = 1000;
const SAFE_ID = /^[A-Za-z0-9-]{1,64}$/;

export interface ResyncCount {
  /** Rows removed from the target: deleted on the source since the copy, or changed (and copied again). */
  removed: number;
  /** Rows copied: new on the source since the copy, or changed. */
  copied: number;
}

/**
 * Makes the target's rows of the tenant in one table equal to the source's, moving only what differs.
 *
 * The source's `(id, md5 of the row)` pairs stream into a temporary table on the target (about 50 bytes a
 * row, never held here); the target then deletes its rows that are missing or differ, and only the rows it
 * lacks afterwards are copied from the source. Inserts, updates and deletes are all caught, for any table
 * with an `id` key, without relying on timestamps the application may not maintain.
 *
 * Both clients must be inside transactions acting as the tenant, with the same TimeZone and DateStyle so
 * that a row renders (and hashes) the same on both sides; the source's should be a REPEATABLE READ snapshot.
 */
export async function resyncTable(
  source: pg.Client,
  target: pg.Client,
  tenantId: string,
  layout: TableLayout,
): Promise<ResyncCount> {
  const tenant = tenantLiteral(tenantId);
  await target.query(
    `CREATE TEMPORARY TABLE tp_move_source_rows (id ${layout.idType} PRIMARY KEY, hash text NOT NULL) ON COMMIT DROP`,
  );
  try {
    await streamRows(
      source,
      `SELECT id, md5(ROW(${layout.columns})::text) FROM ${layout.table} WHERE tenant_id = ${tenant}`,
      target,
      'tp_move_source_rows (id, hash)',
    );
    const removed = await target.query(
      `DELETE FROM ${layout.table} AS t WHERE t.tenant_id = ${tenant} AND NOT EXISTS (
         SELECT 1 FROM tp_move_source_rows AS s WHERE s.id = t.id AND s.hash = md5(ROW(${layout.qualified('t')})::text))`,
    );
    const missing = await target.query<{ id: string }>(
      `SELECT s.id::text AS id FROM tp_move_source_rows AS s WHERE NOT EXISTS (
         SELECT 1 FROM ${layout.table} AS t WHERE t.tenant_id = ${tenant} AND t.id = s.id)`,
    );
    let copied = 0;
    const ids = missing.rows.map((row) => row.id);
    for (let start = 0; start < ids.length; start += IDS_PER_COPY) {
      const chunk = ids.slice(start, start + IDS_PER_COPY);
      if (!chunk.every((id) => SAFE_ID.test(id))) throw new Error(`unexpected id in ${layout.table}`);
      // COPY takes no parameters: the ids go in as one escaped array literal of checked values.
      const array = `${pg.escapeLiteral(`{${chunk.join(',')}}`)}::${layout.idType}[]`;
      copied += await streamRows(
        source,
        `SELECT ${layout.columns} FROM ${layout.table} WHERE tenant_id = ${tenant} AND id = ANY(${array})`,
        target,
        `${layout.table} (${layout.columns})`,
      );
    }
    return { removed: removed.rowCount ?? 0, copied };
  } finally {
    // ON COMMIT DROP covers the usual path; this lets the next table of the same transaction reuse the name.
    await target.query('DROP TABLE IF EXISTS tp_move_source_rows').catch(() => {});
  }
}
