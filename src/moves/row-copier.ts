import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { assertSlug } from '../ids.js';
import { copyOut } from '../postgres/copy-out.js';
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
  onRows?: (rows: number) => void,
): Promise<number> {
  const out = copyOut(source, `COPY (${selectSql}) TO STDOUT`);
  const into = target.query(copyFrom(`COPY ${intoSql} FROM STDIN`));
  if (onRows) await pipeline(out, rowCounter(onRows), into);
  else await pipeline(out, into);
  return into.rowCount ?? 0;
}

const REPORT_EVERY_MS = 1000;

/**
 * Passes COPY text through, calling `onRows` with the rows seen so far at most once a second. In COPY's text
 * format every row ends in a newline and newlines inside values are escaped, so newlines count rows.
 */
function rowCounter(onRows: (rows: number) => void): Transform {
  let rows = 0;
  let reported = Date.now();
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) rows += 1;
      if (Date.now() - reported >= REPORT_EVERY_MS) {
        reported = Date.now();
        onRows(rows);
      }
      done(null, chunk);
    },
  });
}

/**
 * Copies every row of the tenant in one table into `into` on the target (the table with its columns, or a
 * staging table: see beginBulkLoad); both clients are inside their transactions as the tenant.
 */
export function copyTable(
  source: pg.Client,
  target: pg.Client,
  tenantId: string,
  layout: TableLayout,
  into: string,
  onRows?: (rows: number) => void,
): Promise<number> {
  return streamRows(
    source,
    `SELECT ${layout.columns} FROM ${layout.table} WHERE tenant_id = ${tenantLiteral(tenantId)}`,
    target,
    into,
    onRows,
  );
}
