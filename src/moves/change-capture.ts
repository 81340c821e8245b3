import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { SQLSTATE, sqlStateOf } from '../errors/index.js';
import { assertSlug } from '../ids.js';
import { SET_TENANT_SQL } from '../tenant-session/tenant-setting.js';
import { copyRowsById, idArrays, tenantLiteral } from './row-copier.js';
import type { TableLayout } from './table-layout.js';

/**
 * Change capture for a move: while a tenant is copied, row triggers on its source database note the id of
 * every row of the tenant that is inserted, updated or deleted, so that each catch-up (and the last one,
 * inside the pause) copies only those rows instead of comparing the whole tenant. The pause then no longer
 * grows with the tenant, only with what it wrote since the last catch-up.
 *
 * Why triggers rather than logical replication with a row filter: a publication needs `wal_level=logical`
 * and a subscription needs a superuser (PostgreSQL 15) or a replication grant that managed services hand
 * out differently, while a trigger needs only what the admin role already has as the tables' owner. The
 * triggers exist for the tenant being moved only, with a `WHEN` on its id, so the shard's other tenants
 * pay nothing but the condition; they are dropped when the move ends.
 *
 * In the source database, schema `tenantplane`: an unlogged `move_changes (tenant_id, table_name, row_id)`
 * (a server crash empties it, and also ends the move's sessions, which rolls the move back), and the
 * trigger function, SECURITY DEFINER so the application role needs no right on the table. Row-level
 * security is on for the table with no policy, so no other role reads it.
 */

const SCHEMA = 'tenantplane';
const CHANGES = `${SCHEMA}.move_changes`;
const FUNCTION = `${SCHEMA}.capture_move_change`;
/** Serialises the one-time setup of the schema among concurrent moves off one database. */
const SETUP_LOCK_KEY = 'tenantplane.move_changes';
/**
 * How long creating or dropping the triggers waits for a table lock before trying again. Those statements
 * queue every later writer (drop: every reader too) of the table behind them: a short wait keeps the
 * shard's other tenants from stalling behind a long transaction.
 */
const LOCK_TIMEOUT_MS = 200;
const LOCK_ATTEMPTS = 25;
/** Changes taken per catch-up round at most; the rest stay for the next round. */
const CHANGES_PER_ROUND = 50000;

const SETUP_SQL = `
  CREATE SCHEMA IF NOT EXISTS ${SCHEMA};
  CREATE UNLOGGED TABLE IF NOT EXISTS ${CHANGES} (
    tenant_id text NOT NULL,
    table_name text NOT NULL,
    row_id text NOT NULL
  );
  CREATE INDEX IF NOT EXISTS move_changes_tenant_idx ON ${CHANGES} (tenant_id);
  ALTER TABLE ${CHANGES} ENABLE ROW LEVEL SECURITY;
  CREATE OR REPLACE FUNCTION ${FUNCTION}() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
  BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
      INSERT INTO ${CHANGES} VALUES (OLD.tenant_id, TG_TABLE_NAME, OLD.id::text);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.id IS DISTINCT FROM OLD.id) THEN
      INSERT INTO ${CHANGES} VALUES (NEW.tenant_id, TG_TABLE_NAME, NEW.id::text);
    END IF;
    RETURN NULL;
  END $$;
  REVOKE ALL ON FUNCTION ${FUNCTION}() FROM PUBLIC;`;

/** The triggers' names for a tenant: one per event, each with a WHEN on the tenant's id. */
function triggerNames(tenantId: string): Record<'insert' | 'update' | 'delete', string> {
  const slug = assertSlug(tenantId).replaceAll('-', '_');
  return {
    insert: `"tenantplane_capi_${slug}"`,
    update: `"tenantplane_capu_${slug}"`,
    delete: `"tenantplane_capd_${slug}"`,
  };
}

/** Runs `statements` in one transaction, again after a lock wait that ran out (see LOCK_TIMEOUT_MS). */
async function withShortLocks(client: pg.Client, statements: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await client.query(`BEGIN; SET LOCAL lock_timeout = ${LOCK_TIMEOUT_MS}; ${statements}; COMMIT`);
      return;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      if (sqlStateOf(error) !== SQLSTATE.lockNotAvailable || attempt >= LOCK_ATTEMPTS) throw error;
      await sleep(Math.min(50 * attempt, 500));
    }
  }
}

/**
 * Starts capturing the tenant's changes on the source: sets up the schema if it is missing, forgets what an
 * earlier attempt captured, and puts the triggers on every table. Everything committed after this returns
 * is captured; take the copy's snapshot after it. Throws 42501 (insufficient_privilege) when the admin role
 * may not put triggers on the tables: the caller then compares the whole tenant instead.
 */
export async function startChangeCapture(
  source: pg.Client,
  tenantId: string,
  layouts: TableLayout[],
): Promise<void> {
  const tenant = tenantLiteral(tenantId);
  const names = triggerNames(tenantId);
  await source
    .query(
      `BEGIN; SELECT pg_advisory_xact_lock(hashtext(${pg.escapeLiteral(SETUP_LOCK_KEY)})); ${SETUP_SQL}; COMMIT`,
    )
    .catch(async (error: unknown) => {
      await source.query('ROLLBACK').catch(() => {});
      throw error;
    });
  const triggers = layouts.flatMap(({ table }) => [
    `CREATE OR REPLACE TRIGGER ${names.insert} AFTER INSERT ON ${table}
       FOR EACH ROW WHEN (NEW.tenant_id = ${tenant}) EXECUTE FUNCTION ${FUNCTION}()`,
    `CREATE OR REPLACE TRIGGER ${names.update} AFTER UPDATE ON ${table}
       FOR EACH ROW WHEN (OLD.tenant_id = ${tenant} OR NEW.tenant_id = ${tenant}) EXECUTE FUNCTION ${FUNCTION}()`,
    `CREATE OR REPLACE TRIGGER ${names.delete} AFTER DELETE ON ${table}
       FOR EACH ROW WHEN (OLD.tenant_id = ${tenant}) EXECUTE FUNCTION ${FUNCTION}()`,
  ]);
  await withShortLocks(
    source,
    [`DELETE FROM ${CHANGES} WHERE tenant_id = ${tenant}`, ...triggers].join(';\n'),
  );
}

/**
 * Stops capturing: drops the tenant's triggers and what they captured. Safe to repeat, and on a database
 * that never captured anything.
 */
export async function stopChangeCapture(
  source: pg.Client,
  tenantId: string,
  tables: string[],
): Promise<void> {
  const { rows } = await source.query<{ present: boolean }>(
    `SELECT to_regclass('${CHANGES}') IS NOT NULL AS present`,
  );
  if (!rows[0]!.present) return;
  const names = triggerNames(tenantId);
  const drops = tables.flatMap((table) =>
    Object.values(names).map((name) => `DROP TRIGGER IF EXISTS ${name} ON ${table}`),
  );
  await withShortLocks(
    source,
    [...drops, `DELETE FROM ${CHANGES} WHERE tenant_id = ${tenantLiteral(tenantId)}`].join(';\n'),
  );
}

/**
 * One catch-up: takes the changes captured so far (up to CHANGES_PER_ROUND) and makes those rows on the
 * target what they are on the source, all from one source snapshot: the captured changes it sees are
 * exactly those whose rows it shows changed. The target commits before the source forgets the changes, so
 * a failure in between only repeats work. Returns the number of distinct rows brought over (re-copied or
 * deleted); 0 once nothing is left. Neither client may be inside a transaction.
 */
export async function applyCapturedChanges(
  source: pg.Client,
  target: pg.Client,
  tenantId: string,
  layouts: TableLayout[],
): Promise<number> {
  await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
  try {
    await source.query(SET_TENANT_SQL, [tenantId]);
    const { rows } = await source.query<{ table_name: string; ids: string[] }>(
      `WITH taken AS (
         DELETE FROM ${CHANGES} WHERE ctid = ANY(ARRAY(
           SELECT ctid FROM ${CHANGES} WHERE tenant_id = $1 LIMIT ${CHANGES_PER_ROUND}))
         RETURNING table_name, row_id)
       SELECT table_name, array_agg(DISTINCT row_id) AS ids FROM taken GROUP BY table_name`,
      [tenantId],
    );
    let changed = 0;
    if (rows.length > 0) {
      await target.query('BEGIN');
      try {
        await target.query(SET_TENANT_SQL, [tenantId]);
        for (const { table_name, ids } of rows) {
          const layout = layouts.find((candidate) => candidate.name === table_name);
          if (!layout) throw new Error(`captured a change of ${table_name}, which the move does not copy`);
          changed += await replaceRows(source, target, tenantId, layout, ids);
        }
        await target.query('COMMIT');
      } catch (error) {
        await target.query('ROLLBACK').catch(() => {});
        throw error;
      }
    }
    await source.query('COMMIT');
    return changed;
  } catch (error) {
    await source.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/** Deletes the rows with these ids on the target and copies them again from the source's snapshot. */
async function replaceRows(
  source: pg.Client,
  target: pg.Client,
  tenantId: string,
  layout: TableLayout,
  ids: string[],
): Promise<number> {
  const tenant = tenantLiteral(tenantId);
  for (const array of idArrays(layout, ids)) {
    await target.query(`DELETE FROM ${layout.table} WHERE tenant_id = ${tenant} AND id = ANY(${array})`);
  }
  await copyRowsById(source, target, tenantId, layout, ids);
  return ids.length;
}

/** A catch-up round that brings fewer rows than this is close enough: the rest waits for the pause. */
const CLOSE_ENOUGH_ROWS = 200;
const MAX_CATCH_UP_ROUNDS = 10;

/**
 * Catch-up rounds while the tenant still serves, until a round brings few rows (or after a bounded number
 * of rounds, when the tenant writes as fast as it is caught up): what is left for the pause is then what
 * it writes in one short round. `check` runs between rounds (the move lock's).
 */
export async function catchUp(
  source: pg.Client,
  target: pg.Client,
  tenantId: string,
  layouts: TableLayout[],
  check: () => void,
): Promise<number> {
  let total = 0;
  for (let round = 1; round <= MAX_CATCH_UP_ROUNDS; round += 1) {
    const changed = await applyCapturedChanges(source, target, tenantId, layouts);
    total += changed;
    check();
    if (changed < CLOSE_ENOUGH_ROWS) break;
  }
  return total;
}

/** Applies captured changes until none is left: inside the pause, when nothing writes the source any more. */
export async function applyAllCaptured(
  source: pg.Client,
  target: pg.Client,
  tenantId: string,
  layouts: TableLayout[],
): Promise<number> {
  let total = 0;
  for (;;) {
    const changed = await applyCapturedChanges(source, target, tenantId, layouts);
    if (changed === 0) return total;
    total += changed;
  }
}
