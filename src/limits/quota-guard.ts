import type pg from 'pg';
import { QuotaExceededError } from '../errors/index.js';
import type { StatementOptions, TenantDatabase } from '../routing/tenant-database.js';
import { measureUsage } from './tenant-usage.js';
import { countedTable, STORAGE_QUOTA } from './tier-quotas.js';

/** Advisory lock class of quota checks ('quot'), so they never collide with the migration locks. */
const QUOTA_LOCK_CLASS = 0x71756f74;

/**
 * Runs a statement creating a row in `table` unless it would take the tenant past a quota of its tier that
 * counts rows of that table, or its storage quota: 403 `quota_exceeded` with the quota, limit and usage.
 * The quotas are the tier's rows in the catalog (see tier-quotas.ts), so this serves any tenant schema.
 *
 * Race-safe: the check and the insert share one transaction that first takes a per-tenant advisory lock,
 * so concurrent creates of one tenant are counted one after another (each statement after the lock sees
 * the rows the previous holder committed). A create no limited quota applies to pays nothing extra.
 */
export async function insertWithinQuota<R extends pg.QueryResultRow>(
  db: TenantDatabase,
  table: string,
  statement: { text: string; values: unknown[] } & StatementOptions,
): Promise<pg.QueryResult<R>> {
  const quotas = db.limits.quotas
    .filter(
      (quota) => quota.max !== null && (quota.counts === STORAGE_QUOTA || countedTable(quota) === table),
    )
    // The counts first, then storage: a create past both is refused for its count.
    .sort((a, b) => Number(a.counts === STORAGE_QUOTA) - Number(b.counts === STORAGE_QUOTA));
  if (quotas.length === 0) {
    const { text, values, ...options } = statement;
    return db.query<R>(text, values, options);
  }
  // A refusal is returned from the transaction, not thrown in it: an error thrown inside would make the
  // pool discard the connection, and a tenant at its quota would churn connections with every attempt.
  const outcome = await db.transaction(async (trx) => {
    await trx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [QUOTA_LOCK_CLASS, db.tenantId]);
    const usage = await measureUsage(trx, db.tenantId, quotas, { storage: false });
    for (const quota of quotas) {
      const used = usage[quota.name] ?? 0;
      if (quota.max !== null && used >= quota.max) return new QuotaExceededError(quota.name, quota.max, used);
    }
    return trx.query<R>(statement.text, statement.values, { types: statement.types });
  });
  if (outcome instanceof QuotaExceededError) throw outcome;
  return outcome;
}
