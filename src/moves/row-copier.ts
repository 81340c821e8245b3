import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { assertSlug } from '../ids.js';
import type { TableLayout } from './table-layout.js';

/**
 * The SQL literal of a tenant id, for COPY statements (which take no parameters). Only a validated slug
 * gets here, and it is escaped on top.
 */
export function tenantLiteral(tenantId: string): string {
  return pg.escapeLiteral(assertSlug(tenantId));
}

/**
 * Streams the rows a query selects on the source into a table on the target, COPY to COPY: rows pass
 * through in chunks and never sit in memory together. Returns the number of rows written.
 */
export async function streamRows(
  source: pg.Client,
  selectSql: string,
  target: pg.Client,
  intoSql: string,
): Promise<number> {
  const out = source.query(copyTo(`COPY (${selectSql}) TO STDOUT`));
  const into = target.query(copyFrom(`COPY ${intoSql} FROM STDIN`));
  await pipeline(out, into);
  return into.rowCount ?? 0;
}

/** Copies every row of the tenant in one table; both clients are inside their transactions as the tenant. */
export function copyTable(
  source: pg.Client,
  target: pg.Client,
  tenantId: string,
  layout: TableLayout,
): Promise<number> {
  return streamRows(
    source,
    `SELECT ${layout.columns} FROM ${layout.table} WHERE tenant_id = ${tenantLiteral(tenantId)}`,
    target,
    `${layout.table} (${layout.columns})`,
  );
}
