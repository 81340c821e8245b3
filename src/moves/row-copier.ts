import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { assertSlug } from '../ids.js';
import { copyOut } from '../postgres/copy-out.js';
import { beginBulkLoad } from '../provisioning/tenant-bulk-load.js';
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

/** Ids fetched per COPY when copying rows by id; keeps each statement a sane size. */
const IDS_PER_COPY = 1000;
/** What a row id looks like as text (uuid, integer): anything else is refused before it reaches SQL. */
const SAFE_ID = /^[A-Za-z0-9-]{1,64}$/;

/**
 * The ids as typed SQL array literals of at most IDS_PER_COPY each, for statements that take no parameters
 * (COPY). Throws on an id that does not look like one.
 */
export function idArrays(layout: TableLayout, ids: readonly string[]): string[] {
  if (!ids.every((id) => SAFE_ID.test(id))) throw new Error(`unexpected id in ${layout.table}`);
  const arrays: string[] = [];
  for (let start = 0; start < ids.length; start += IDS_PER_COPY) {
    arrays.push(
      `${pg.escapeLiteral(`{${ids.slice(start, start + IDS_PER_COPY).join(',')}}`)}::${layout.idType}[]`,
    );
  }
  return arrays;
}

/**
 * Copies the tenant's rows with these ids from the source into its table on the target; returns the rows
 * copied. Loaded as a shard's admin role may without locking the table (staged when row-level security
 * binds it), so a shard's other tenants go on meanwhile; both clients are inside their transactions as
 * the tenant.
 */
export async function copyRowsById(
  source: pg.Client,
  target: pg.Client,
  tenantId: string,
  layout: TableLayout,
  ids: readonly string[],
): Promise<number> {
  const arrays = idArrays(layout, ids);
  const tenant = tenantLiteral(tenantId);
  const load = await beginBulkLoad(target, {
    table: layout.name,
    columns: layout.columns,
    tenantId,
    exclusive: false,
  });
  let copied = 0;
  for (const array of arrays) {
    copied += await streamRows(
      source,
      `SELECT ${layout.columns} FROM ${layout.table} WHERE tenant_id = ${tenant} AND id = ANY(${array})`,
      target,
      load.copyInto,
    );
  }
  await load.finish();
  return copied;
}
