import type pg from 'pg';
import { QuotaExceededError } from '../errors.js';
import type { StatementOptions, TenantDatabase } from '../routing/tenant-database.js';
import { type CountedQuota, TENANT_USAGE_SQL, toUsage } from './tenant-usage.js';

/** Advisory lock class of quota checks ('quot'), so they never collide with the migration locks. */
const QUOTA_LOCK_CLASS = 0x71756f74;

/**
 * Runs a create statement unless it would take the tenant past its quota for `quota` or its storage
 * quota: 403 `quota_exceeded` with the quota, limit and usage.
 *
 * Race-safe: the check and the insert share one transaction that first takes a per-tenant advisory lock,
 * so concurrent creates of one tenant are counted one after another (each statement after the lock sees
 * the rows the previous holder committed). A tenant without these quotas pays nothing extra.
 */
export async function insertWithinQuota<R extends pg.QueryResultRow>(
  db: TenantDatabase,
  quota: CountedQuota,
  statement: { text: string; values: unknown[] } & StatementOptions,
): Promise<pg.QueryResult<R>> {
  const countLimit = db.limits[quota];
  const storageLimit = db.limits.storageBytes;
  if (countLimit === null && storageLimit === null) {
    const { text, values, ...options } = statement;
    return db.query<R>(text, values, options);
  }
  // A refusal is returned from the transaction, not thrown in it: an error thrown inside would make the
  // pool discard the connection, and a tenant at its quota would churn connections with every attempt.
  const outcome = await db.transaction(async (trx) => {
    await trx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [QUOTA_LOCK_CLASS, db.tenantId]);
    const usage = toUsage((await trx.query(TENANT_USAGE_SQL, [db.tenantId])).rows[0]);
    if (countLimit !== null && usage[quota] >= countLimit) {
      return new QuotaExceededError(quota, countLimit, usage[quota]);
    }
    if (storageLimit !== null && usage.storage_bytes >= storageLimit) {
      return new QuotaExceededError('storage_bytes', storageLimit, usage.storage_bytes);
    }
    return trx.query<R>(statement.text, statement.values, { types: statement.types });
  });
  if (outcome instanceof QuotaExceededError) throw outcome;
  return outcome;
}
