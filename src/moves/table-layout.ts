import type pg from 'pg';
import { ConflictError } from '../errors/index.js';
import { quoteIdent } from '../ids.js';
import { tenantTables } from '../provisioning/tenant-database.js';

/**
 * A tenant table as a move copies and compares it. The SQL fragments take a column prefix: `''`, or
 * `'t.'` inside a join.
 */
export interface TableLayout {
  /** The table's name, as progress reports show it. */
  name: string;
  /** The name quoted for SQL. */
  table: string;
  /** Quoted, comma-separated column list, the same on both sides. */
  columns: string;
  /** The `id` column's type name, quoted (e.g. `"uuid"`), for arrays of ids. */
  idType: string;
  /** A row's bucket (one of 4096, by its id), as text. */
  bucket: (prefix: string) => string;
  /** A digest of a row's content, as text: equal on both sides exactly when the rows are. */
  rowHash: (prefix: string) => string;
  /** Aggregate over a bucket's rows: their count and a digest of their content. */
  digest: string;
}

/**
 * Column types whose hash functions agree exactly with equality of their stored form. Floats and numeric
 * are left out: -0 and 0, or 1.0 and 1.00, hash alike but are not the same bytes.
 */
const HASHABLE = new Set([
  'uuid',
  'text',
  'varchar',
  'bpchar',
  'int2',
  'int4',
  'int8',
  'bool',
  'timestamptz',
  'timestamp',
  'date',
  'jsonb',
  'bytea',
]);

/**
 * How rows are compared: PostgreSQL 14's typed record hash when every column allows it (about four times
 * faster than hashing each row's text, which matters while the tenant is paused), else md5 of the text.
 */
function hashing(names: string[], fast: boolean): Pick<TableLayout, 'bucket' | 'rowHash' | 'digest'> {
  const row = (prefix: string) => `ROW(${names.map((name) => `${prefix}${name}`).join(', ')})`;
  if (fast) {
    return {
      bucket: (prefix) => `(hash_record_extended(ROW(${prefix}"id"), 0) & 4095)::text`,
      rowHash: (prefix) => `hash_record_extended(${row(prefix)}, 0)::text`,
      // XOR of the rows' 64-bit hashes: no sort needed, and with the count a lost or changed row shows.
      digest: `count(*) || ':' || bit_xor(hash_record_extended(${row('')}, 0))`,
    };
  }
  return {
    bucket: (prefix) => `left(md5(${prefix}"id"::text), 3)`,
    rowHash: (prefix) => `md5(${row(prefix)}::text)`,
    digest: `count(*) || ':' || md5(string_agg(md5(${row('')}::text), '' ORDER BY "id"))`,
  };
}

async function hasRecordHash(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ version: string }>(
    "SELECT current_setting('server_version_num') AS version",
  );
  return Number(rows[0]!.version) >= 140000;
}

interface ColumnRow {
  table_name: string;
  column_name: string;
  udt_name: string;
}

async function columnsOf(client: pg.Client): Promise<Map<string, ColumnRow[]>> {
  const tables = await tenantTables(client);
  const result = await client.query<ColumnRow>(
    `SELECT table_name, column_name, udt_name FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = ANY($1) ORDER BY table_name, ordinal_position`,
    [tables],
  );
  const byTable = new Map<string, ColumnRow[]>(tables.map((table) => [table, []]));
  for (const row of result.rows) byTable.get(row.table_name)!.push(row);
  return byTable;
}

function signature(columns: ColumnRow[]): string {
  return columns
    .map((column) => `${column.column_name}:${column.udt_name}`)
    .sort()
    .join(',');
}

/**
 * The tenant tables of the source, checked against the target: the same tables with the same columns and
 * types (in whatever order), each with an `id` key. A database a migration has not reached yet is refused
 * rather than copied into a schema that does not fit.
 */
export async function matchingLayouts(source: pg.Client, target: pg.Client): Promise<TableLayout[]> {
  const [from, to, sourceHash, targetHash] = await Promise.all([
    columnsOf(source),
    columnsOf(target),
    hasRecordHash(source),
    hasRecordHash(target),
  ]);
  const mismatch = (what: string) =>
    new ConflictError(
      `the source and target schemas differ (${what}): run \`tenantctl migrate up\` first`,
      'schema_mismatch',
    );
  if ([...from.keys()].join(',') !== [...to.keys()].join(',')) throw mismatch('tables');
  const layouts: TableLayout[] = [];
  for (const [table, columns] of from) {
    if (signature(columns) !== signature(to.get(table)!)) throw mismatch(`columns of ${table}`);
    const id = columns.find((column) => column.column_name === 'id');
    if (!id) throw mismatch(`${table} has no id column`);
    const names = columns.map((column) => quoteIdent(column.column_name));
    const fast = sourceHash && targetHash && columns.every((column) => HASHABLE.has(column.udt_name));
    layouts.push({
      name: table,
      table: quoteIdent(table),
      columns: names.join(', '),
      idType: quoteIdent(id.udt_name),
      ...hashing(names, fast),
    });
  }
  return layouts;
}
