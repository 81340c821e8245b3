import type { Knex } from 'knex';

/**
 * Inserts `count` catalog rows of tenants on `databaseId` in one statement: ids `<prefix>-00001`..., names
 * "Customer 1"..., tiers alternating starter and pro, every seventh suspended, every fifth pinned to
 * `eu` when given. Only the catalog rows: enough for lists, searches and filters, not for a tenant's own
 * rows (creating each through the API would take minutes at 10,000).
 */
export async function seedCatalogTenants(
  knex: Knex,
  options: { count: number; prefix: string; databaseId: string; region?: string },
): Promise<void> {
  await knex.raw(
    `INSERT INTO tenants (id, name, tier, status, database_id, region)
     SELECT ? || '-' || lpad(n::text, 5, '0'), 'Customer ' || n,
            CASE WHEN n % 2 = 0 THEN 'pro' ELSE 'starter' END,
            CASE WHEN n % 7 = 0 THEN 'suspended' ELSE 'active' END,
            ?, CASE WHEN n % 5 = 0 THEN ?::text END
     FROM generate_series(1, ?::int) AS n`,
    [options.prefix, options.databaseId, options.region ?? null, options.count],
  );
  await knex.raw('ANALYZE tenants');
}
