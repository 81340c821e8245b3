import type { Knex } from 'knex';

/** A tenant's bytes (see src/placement/tenant-bytes.ts) as measured in one database. */
export interface TenantSize {
  tenantId: string;
  databaseId: string;
  bytes: number;
}

/**
 * Records measured sizes in one statement, each replacing the tenant's last. A tenant or database removed
 * since it was measured is left out rather than failing the whole record.
 */
export async function recordTenantSizes(knex: Knex, sizes: readonly TenantSize[]): Promise<void> {
  if (sizes.length === 0) return;
  await knex.raw(
    `INSERT INTO tenant_sizes (tenant_id, database_id, bytes)
     SELECT m.tenant_id, m.database_id, m.bytes
       FROM unnest(?::text[], ?::text[], ?::bigint[]) AS m (tenant_id, database_id, bytes)
       JOIN tenants t ON t.id = m.tenant_id
       JOIN databases d ON d.id = m.database_id
     ON CONFLICT (tenant_id) DO UPDATE
       SET database_id = EXCLUDED.database_id, bytes = EXCLUDED.bytes, measured_at = now()`,
    [
      sizes.map((size) => size.tenantId),
      sizes.map((size) => size.databaseId),
      sizes.map((size) => String(size.bytes)),
    ],
  );
}

/**
 * For each of `databaseIds`, the recorded bytes of the live tenants placed on it now: a size recorded while
 * the tenant was in another database counts for none, and a tenant never measured counts as 0. A database
 * with no such tenant answers 0.
 */
export async function recordedBytesOn(
  knex: Knex,
  databaseIds: readonly string[],
): Promise<Map<string, number>> {
  const bytes = new Map<string, number>(databaseIds.map((id) => [id, 0]));
  if (databaseIds.length === 0) return bytes;
  const rows: Array<{ database_id: string; bytes: string }> = await knex('tenants as t')
    .join('tenant_sizes as s', function sizeWhereItIs() {
      this.on('s.tenant_id', 't.id').andOn('s.database_id', 't.database_id');
    })
    .whereIn('t.database_id', databaseIds)
    .whereNot('t.status', 'deleted')
    .groupBy('t.database_id')
    .select('t.database_id', knex.raw('sum(s.bytes)::bigint::text AS bytes'));
  for (const row of rows) bytes.set(row.database_id, Number(row.bytes));
  return bytes;
}

/**
 * For each of `databaseIds`, its live tenants' bytes as placement weighs them: the size recorded where each
 * tenant is now, and for a tenant with none (new, or moved since it was measured) the mean of the recorded
 * sizes, so that tenants created between two measurements spread over the shards instead of all landing
 * on the one that looks emptiest. With nothing recorded anywhere, every shard answers 0.
 */
export async function estimatedBytesOn(
  knex: Knex,
  databaseIds: readonly string[],
): Promise<Map<string, number>> {
  const bytes = new Map<string, number>(databaseIds.map((id) => [id, 0]));
  if (databaseIds.length === 0) return bytes;
  const { rows } = await knex.raw<{ rows: Array<{ database_id: string; bytes: string }> }>(
    `WITH measured AS (
       SELECT s.tenant_id, s.bytes FROM tenant_sizes s
         JOIN tenants t ON t.id = s.tenant_id AND t.database_id = s.database_id AND t.status <> 'deleted'),
     mean AS (SELECT coalesce(avg(bytes), 0) AS bytes FROM measured)
     SELECT t.database_id,
            round(coalesce(sum(m.bytes), 0)
                  + count(*) FILTER (WHERE m.tenant_id IS NULL) * (SELECT bytes FROM mean))::bigint::text AS bytes
       FROM tenants t LEFT JOIN measured m ON m.tenant_id = t.id
      WHERE t.database_id = ANY(?::text[]) AND t.status <> 'deleted'
      GROUP BY t.database_id`,
    [[...databaseIds]],
  );
  for (const row of rows) bytes.set(row.database_id, Number(row.bytes));
  return bytes;
}
