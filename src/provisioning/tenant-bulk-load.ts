import type pg from 'pg';
import { RowSecurityViolation } from '../errors/index.js';
import { assertSlug, quoteIdent } from '../ids.js';

/**
 * How rows reach a tenant table in bulk. PostgreSQL refuses `COPY … FROM` into a table whose row-level
 * security applies to the session ("COPY FROM not supported with row-level security"), and FORCE makes it
 * apply to the tables' owner: to any admin role but a superuser or a BYPASSRLS role, so to managed
 * PostgreSQL's (RDS, Cloud SQL, Azure).
 *
 * - `direct`: row-level security does not apply to this session: COPY into the table.
 * - `unforced`: the database holds this tenant's rows only (a dedicated or scratch database) and the session
 *   owns the table. FORCE is lifted inside the caller's transaction, whose ACCESS EXCLUSIVE lock on the table
 *   (taken by that ALTER TABLE, held until the transaction ends) keeps every other session from seeing it so;
 *   COPY goes straight in; every row's tenant_id is then checked, as the policy would have; FORCE is put back
 *   before the caller commits, and a rollback puts it back as well. As fast as `direct`.
 * - `staged`: COPY into a temporary table (which has no row-level security), then `INSERT … SELECT` into
 *   the table in the caller's transaction, which acts as the tenant, so the policy's WITH CHECK passes
 *   each row. It takes no lock beyond an INSERT's: a shard's other tenants go on unhindered.
 */
export type BulkLoadPath = 'direct' | 'unforced' | 'staged';

export interface BulkLoadOptions {
  /** The table, in schema public. */
  table: string;
  /** Quoted, comma-separated columns, in the order of the COPY data. */
  columns: string;
  /** Whose rows these are. The caller's transaction must act as this tenant (set_config). */
  tenantId: string;
  /**
   * The database holds no other tenant's rows, and the caller may lock the table until its transaction
   * ends: a dedicated database (a restore has it locked already, a move's target serves no one yet) or a
   * scratch one. Never a shard.
   */
  exclusive: boolean;
  /**
   * What is inserted for each row, matching `columns`, where `$1` is the tenant id: for rows that carry
   * another tenant's id (a restore into a new tenant). Always staged.
   */
  select?: string;
}

export interface BulkLoad {
  readonly path: BulkLoadPath;
  /** What `COPY … FROM STDIN` writes into (with its column list); any number of COPYs before finish(). */
  readonly copyInto: string;
  /** After the last COPY has ended: inserts the staged rows, or checks the rows and forces row-level security again. */
  finish(): Promise<void>;
}

/** The staged rows of one table at a time; dropped by finish(), and by the transaction's end in any case. */
const STAGING_TABLE = 'tenantplane_load_rows';

interface TableSecurity {
  /** Row-level security applies to this session. */
  active: boolean;
  forced: boolean;
  /** The session has the privileges of the table's owner (so may ALTER it). */
  owns: boolean;
}

async function tableSecurity(client: pg.Client, table: string): Promise<TableSecurity> {
  const { rows } = await client.query<TableSecurity>(
    `SELECT row_security_active(c.oid) AS active, c.relforcerowsecurity AS forced,
            pg_has_role(c.relowner, 'USAGE') AS owns
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relname = $1`,
    [table],
  );
  if (!rows[0]) throw new Error(`no table public.${table}`);
  return rows[0];
}

/** Which way this session can load the table (see BulkLoadPath). */
export async function bulkLoadPath(client: pg.Client, options: BulkLoadOptions): Promise<BulkLoadPath> {
  if (options.select !== undefined) return 'staged';
  const security = await tableSecurity(client, options.table);
  if (!security.active) return 'direct';
  if (options.exclusive && security.forced && security.owns) return 'unforced';
  return 'staged';
}

/**
 * Prepares a bulk load of one tenant table inside the caller's transaction: COPY into `copyInto`, then
 * call finish(). A failure anywhere must roll the transaction back, which undoes everything this did.
 */
export async function beginBulkLoad(client: pg.Client, options: BulkLoadOptions): Promise<BulkLoad> {
  const table = `public.${quoteIdent(options.table)}`;
  const tenantId = assertSlug(options.tenantId);
  const path = await bulkLoadPath(client, options);
  if (path === 'direct') {
    return { path, copyInto: `${table} (${options.columns})`, finish: async () => {} };
  }
  if (path === 'unforced') {
    await client.query(`ALTER TABLE ${table} NO FORCE ROW LEVEL SECURITY`);
    return {
      path,
      copyInto: `${table} (${options.columns})`,
      async finish() {
        // The whole table is the tenant's (exclusive), so any other tenant_id is a row the policy refuses.
        const stray = await client.query(
          `SELECT 1 FROM ${table} WHERE tenant_id IS DISTINCT FROM $1 LIMIT 1`,
          [tenantId],
        );
        if (stray.rowCount) {
          throw new RowSecurityViolation(
            `new row violates row-level security policy for table "${options.table}": not of tenant ${tenantId}`,
          );
        }
        await client.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
      },
    };
  }
  await client.query(
    `CREATE TEMPORARY TABLE ${STAGING_TABLE} (LIKE ${table} INCLUDING DEFAULTS) ON COMMIT DROP`,
  );
  return {
    path,
    copyInto: `${STAGING_TABLE} (${options.columns})`,
    async finish() {
      await client.query(
        `INSERT INTO ${table} (${options.columns}) SELECT ${options.select ?? options.columns} FROM ${STAGING_TABLE}`,
        options.select?.includes('$1') ? [tenantId] : [],
      );
      await client.query(`DROP TABLE ${STAGING_TABLE}`);
    },
  };
}
