import type { Knex } from 'knex';

/** One tier's metered traffic in one hour: every tenant of the tier (now) added up. */
export interface TierHourUsage {
  tier: string;
  period_start: Date;
  requests: number;
  errors_4xx: number;
  errors_5xx: number;
}

/**
 * Requests and errors per tier and hour between `from` (inclusive) and `to`, oldest hour first, read with
 * the period index. A tenant counts under its tier as it is now: the hours are for a glance at the fleet,
 * not for billing, which is per tenant. Tenants whose row is gone (never, while the catalog keeps deleted
 * tenants) are left out.
 */
export async function tierUsage(knex: Knex, from: Date, to: Date): Promise<TierHourUsage[]> {
  const { rows } = await knex.raw(
    `SELECT t.tier, u.period_start,
            sum(u.requests)::float8 AS requests,
            sum(u.errors_4xx)::float8 AS errors_4xx,
            sum(u.errors_5xx)::float8 AS errors_5xx
       FROM tenant_usage u
       JOIN tenants t ON t.id = u.tenant_id
      WHERE u.period_start >= ? AND u.period_start < ?
      GROUP BY t.tier, u.period_start
      ORDER BY u.period_start, t.tier`,
    [from, to],
  );
  return rows as TierHourUsage[];
}
