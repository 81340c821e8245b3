import type { Catalog } from '../catalog/catalog.js';
import { tenantFeatures } from '../catalog/feature-flags.js';
import type { FeatureFlags, TenantLimits, TenantRecord, TierQuota } from '../catalog/records.js';
import { UnavailableError } from '../errors/index.js';
import { quoteIdent } from '../ids.js';
import { withAdminClient } from '../provisioning/admin-connection.js';
import { describeTenant, type TenantView } from '../provisioning/tenant-view.js';
import { inTenantTransaction } from '../tenant-session/tenant-transaction.js';
import { tenantLimits } from './tenant-limits.js';
import { countedTable, STORAGE_QUOTA } from './tier-quotas.js';

/**
 * What a tenant uses, by quota name: each of its quotas' measure, and `storage_bytes` always (every tenant
 * schema has a size).
 */
export type TenantUsage = Record<string, number>;

/** Runs one statement; a pg client and a tenant transaction both do. */
export interface UsageQueryable {
  query(text: string, values: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

/**
 * The tenant tables of the database's schema: tables of the public schema with a tenant_id column (as
 * exports and backups see them; a partition is measured through its parent). Whatever the schema, from
 * tenant-migrations/ or a TENANT_MIGRATIONS_DIR of its own.
 */
export const TENANT_TABLES_SQL = `SELECT c.relname AS name FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
 WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
 ORDER BY c.relname`;

/** Measuring statements by the tables they read: a handful of schemas and quota sets per process. */
const statements = new Map<string, string>();
const MAX_STATEMENTS = 256;

/**
 * One statement measuring, for tenant `$1`, its rows in each of `counted` (every one a tenant table) as
 * `rows_<index>` and, with `storage`, its storage over `tables` as `storage_bytes`: row sizes
 * (pg_column_size of each row; indexes excluded) rather than pg_database_size, so that a tenant on a
 * shard and one in its own database are measured alike.
 */
export function usageStatement(tables: string[], counted: string[], storage = true): string {
  const key = `${storage ? tables.join(',') : '-'}|${counted.join(',')}`;
  let text = statements.get(key);
  if (text === undefined) {
    const table = (name: string) => `public.${quoteIdent(name)}`;
    const counts = counted.map(
      (name, index) => `(SELECT count(*) FROM ${table(name)} WHERE tenant_id = $1)::bigint AS rows_${index}`,
    );
    const sizes = tables.map(
      (name) => `(SELECT coalesce(sum(pg_column_size(r.*)), 0) FROM ${table(name)} r WHERE tenant_id = $1)`,
    );
    const size = `(${sizes.length > 0 ? sizes.join('\n   + ') : '0'})::bigint AS storage_bytes`;
    text = `SELECT ${[...counts, ...(storage ? [size] : [])].join(',\n  ')}`;
    if (statements.size >= MAX_STATEMENTS) statements.clear();
    statements.set(key, text);
  }
  return text;
}

/**
 * Measures a tenant's use of `quotas`, acting as the tenant (the caller's session or transaction), and its
 * storage unless `storage` is false and no quota counts it (reading every row of the tenant is the costly
 * part). Only tables the schema has are read: a quota counting rows of a table it does not have measures 0.
 */
export async function measureUsage(
  db: UsageQueryable,
  tenantId: string,
  quotas: readonly TierQuota[],
  options: { storage?: boolean } = {},
): Promise<TenantUsage> {
  const storage = options.storage !== false || quotas.some((quota) => quota.counts === STORAGE_QUOTA);
  const tables = (await db.query(TENANT_TABLES_SQL, [])).rows.map((row) => row.name as string);
  const present = new Set(tables);
  const counted = [
    ...new Set(
      quotas.map(countedTable).filter((name): name is string => name !== undefined && present.has(name)),
    ),
  ];
  const [row = {}] =
    counted.length > 0 || storage
      ? (await db.query(usageStatement(tables, counted, storage), [tenantId])).rows
      : [];
  const usage: TenantUsage = {};
  for (const quota of quotas) {
    const table = countedTable(quota);
    // bigint arrives as a string; counts and sizes stay far below 2^53.
    usage[quota.name] =
      table === undefined
        ? Number(row.storage_bytes)
        : present.has(table)
          ? Number(row[`rows_${counted.indexOf(table)}`])
          : 0;
  }
  if (storage) usage[STORAGE_QUOTA] = Number(row.storage_bytes);
  return usage;
}

/** The limits as the admin API and `tenants show` present them, quotas by name (null: unlimited). */
export function limitsView(limits: TenantLimits): Record<string, number | null> {
  const view: Record<string, number | null> = { requests_per_minute: limits.requestsPerMinute };
  for (const quota of limits.quotas) view[quota.name] = quota.max;
  return view;
}

/** How `tenants show` labels the sample application's quotas (as it always has); others by their name. */
const QUOTA_LABELS: Record<string, string> = { deployments: 'deploys', storage_bytes: 'storage' };

/** The rate and each quota's usage of its limit, one line each, as `tenants show` prints them. */
export function quotaLines(view: {
  limits: Record<string, number | null>;
  usage: TenantUsage | null;
}): string[] {
  const names = Object.keys(view.limits).filter((name) => name !== 'requests_per_minute');
  const width = Math.max(10, ...names.map((name) => (QUOTA_LABELS[name] ?? name).length + 1));
  return [
    `${'rate:'.padEnd(width)} ${view.limits.requests_per_minute} requests per minute`,
    ...names.map((name) => {
      const label = `${QUOTA_LABELS[name] ?? name}:`.padEnd(width);
      const line = `${label} ${view.usage?.[name] ?? '?'} of ${view.limits[name] ?? 'unlimited'}`;
      return name === STORAGE_QUOTA ? `${line} bytes` : line;
    }),
  ];
}

/** A tenant's usage, read on its database over the server's admin connection; undefined without a placement. */
export async function tenantUsage(
  catalog: Catalog,
  tenant: TenantRecord,
  limits?: TenantLimits,
): Promise<TenantUsage | undefined> {
  if (!tenant.databaseId) return undefined;
  const effective = limits ?? (await tenantLimits(catalog, tenant));
  const database = await catalog.getDatabase(tenant.databaseId);
  if (!database) return undefined;
  const url = await catalog.serverAdminUrl(database.serverId, database.databaseName);
  // The admin role may be subject to forced row-level security too: act as the tenant.
  return withAdminClient(url, (client) =>
    inTenantTransaction(client, tenant.id, () => measureUsage(client, tenant.id, effective.quotas), {
      snapshot: true,
    }),
  );
}

/**
 * A tenant as `GET /admin/v1/tenants/:id` and `tenants show` present it: with its effective feature flags,
 * its limits and its usage.
 */
export async function describeTenantWithUsage(
  catalog: Catalog,
  tenant: TenantRecord,
): Promise<
  TenantView & { features: FeatureFlags; limits: Record<string, number | null>; usage: TenantUsage | null }
> {
  const limits = await tenantLimits(catalog, tenant);
  const [view, features, usage] = await Promise.all([
    describeTenant(catalog, tenant),
    tenantFeatures(catalog, tenant),
    // A server that is down leaves usage unknown rather than failing the whole answer.
    tenantUsage(catalog, tenant, limits).catch((error: unknown) => {
      if (error instanceof UnavailableError) return undefined;
      throw error;
    }),
  ]);
  return { ...view, features, limits: limitsView(limits), usage: usage ?? null };
}
