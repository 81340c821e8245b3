import type pg from 'pg';
import { ConflictError } from '../errors.js';
import { quoteIdent } from '../ids.js';
import { tenantTables } from '../provisioning/tenant-database.js';

/** A tenant table as a move copies it: its columns in order and the type of its `id` key. */
export interface TableLayout {
  /** The table's name, as progress reports show it. */
  name: string;
  /** The name quoted for SQL. */
  table: string;
  /** Quoted, comma-separated column list, the same on both sides. */
  columns: string;
  /** Each column qualified with `alias.`, for row hashes in joins. */
  qualified: (alias: string) => string;
  /** The `id` column's type name, quoted (e.g. `"uuid"`), for arrays of ids. */
  idType: string;
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
  const [from, to] = await Promise.all([columnsOf(source), columnsOf(target)]);
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
    layouts.push({
      name: table,
      table: quoteIdent(table),
      columns: names.join(', '),
      qualified: (alias) => names.map((name) => `${alias}.${name}`).join(', '),
      idType: quoteIdent(id.udt_name),
    });
  }
  return layouts;
}
