import { pipeline, type Readable, Transform } from 'node:stream';
import pg from 'pg';
import { assertSlug, quoteIdent } from '../ids.js';
import { copyOut } from '../postgres/copy-out.js';
import { withAdminClient } from '../provisioning/admin-connection.js';
import { TENANT_LEDGER, tenantTables } from '../provisioning/tenant-database.js';
import { inTenantTransaction } from '../tenant-session/tenant-transaction.js';
import type { TenantLocation } from './tenant-location.js';

export interface SnapshotTable {
  name: string;
  /** Column names in table order. */
  columns: string[];
}

/** One tenant's rows as of one moment, table by table. */
export interface TenantSnapshot {
  tenantId: string;
  /** The latest tenant migration applied to the database, or '' for none. */
  schemaVersion: string;
  /** Every migration applied to the database, in order. */
  migrations: string[];
  tables: SnapshotTable[];
  /**
   * Streams the tenant's rows of one table: `text` is PostgreSQL's COPY text format (one row per line),
   * `ndjson` one JSON object per line. Consume each stream to its end before starting the next; its
   * `rowCount` is set once it has ended.
   */
  copy(table: SnapshotTable, format: 'text' | 'ndjson'): Readable & { rowCount: number };
}

export async function tableColumns(client: pg.Client, table: string): Promise<string[]> {
  const result = await client.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return result.rows.map((row) => row.column_name);
}

/**
 * The rows of a COPY, counted as they pass: one line each (COPY text escapes newlines inside values, and
 * row_to_json writes none). COPY's own count is no use at the stream's end: pg-copy-streams ends the stream
 * at CopyDone and reads the count from the CommandComplete that follows, so a reader taking it right after
 * the last row may still see 0. Errors and an early destroy pass through as with the COPY stream itself.
 */
function countingRows(rows: Readable): Readable & { rowCount: number } {
  let rowCount = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) rowCount += 1;
      done(null, chunk);
    },
  });
  pipeline(rows, counter, () => {});
  return Object.defineProperty(counter, 'rowCount', { get: () => rowCount }) as Transform & {
    rowCount: number;
  };
}

/** The `SELECT` of one tenant's rows; the tenant id is a checked slug, quoted as a literal (COPY binds nothing). */
export function tenantRowsQuery(table: string, columns: string[], tenantId: string): string {
  const list = columns.map(quoteIdent).join(', ');
  return `SELECT ${list} FROM ${quoteIdent(table)} WHERE tenant_id = ${pg.escapeLiteral(assertSlug(tenantId))}`;
}

/**
 * Runs `work` inside one repeatable-read, read-only transaction on the tenant's database, so every table
 * is read as of the same moment. Rows are streamed with COPY and never held in memory whole. On a shard the
 * transaction acts as the tenant, since row-level security is forced there.
 */
export async function withTenantSnapshot<T>(
  location: TenantLocation,
  work: (snapshot: TenantSnapshot) => Promise<T>,
): Promise<T> {
  const tenantId = assertSlug(location.tenantId);
  return withAdminClient(location.adminUrl, (client) =>
    inTenantTransaction(
      client,
      tenantId,
      async () => {
        await pinOutputSettings(client);
        const migrations = await appliedMigrations(client);
        const tables: SnapshotTable[] = [];
        for (const name of await tenantTables(client)) {
          tables.push({ name, columns: await tableColumns(client, name) });
        }
        return work({
          tenantId,
          schemaVersion: migrations.at(-1) ?? '',
          migrations,
          tables,
          copy(table, format) {
            const select = tenantRowsQuery(table.name, table.columns, tenantId);
            // row_to_json never yields raw newlines, \x01 or \x02, so CSV with those as quote and delimiter
            // passes each JSON object through untouched, one per line.
            const sql =
              format === 'text'
                ? `COPY (${select}) TO STDOUT`
                : `COPY (SELECT row_to_json(r) FROM (${select}) r) TO STDOUT WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')`;
            return countingRows(copyOut(client, sql));
          },
        });
      },
      { snapshot: true },
    ),
  );
}

/**
 * Fixes the settings that shape how values are written as text (COPY, row_to_json) for the transaction, so
 * the same rows are the same bytes whatever the server's or database's defaults: a restore drill recomputes
 * the table digests a backup recorded (src/backup/drills/) from rows read back on another database.
 */
export async function pinOutputSettings(client: pg.Client): Promise<void> {
  await client.query(
    `SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, MDY'; SET LOCAL IntervalStyle = 'postgres';
     SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'`,
  );
}

export async function appliedMigrations(client: pg.Client): Promise<string[]> {
  const ledger = `${TENANT_LEDGER.schema}.${TENANT_LEDGER.table}`;
  const exists = await client.query('SELECT to_regclass($1) AS name', [ledger]);
  if (!exists.rows[0]?.name) return [];
  const result = await client.query<{ name: string }>(
    `SELECT name FROM ${quoteIdent(TENANT_LEDGER.schema)}.${quoteIdent(TENANT_LEDGER.table)} ORDER BY name`,
  );
  return result.rows.map((row) => row.name);
}
