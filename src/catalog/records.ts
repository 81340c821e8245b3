/** Rows of the control-plane catalog, as the rest of the code sees them. */

export type Placement = 'shard' | 'dedicated';
export type TenantStatus = 'provisioning' | 'active' | 'suspended' | 'moving' | 'deleting' | 'deleted';
export type DatabaseStatus = 'creating' | 'ready' | 'dropping';

/** Feature flags by name (a slug), on or off (see src/catalog/feature-flags.ts). */
export type FeatureFlags = Readonly<Record<string, boolean>>;

export interface TierRecord {
  id: string;
  placement: Placement;
  poolSize: number;
  requestsPerMinute: number;
  /** The tier's quotas (catalog table tier_quotas), by name. */
  quotas: TierQuota[];
  /** The feature flags every tenant of the tier has unless it overrides them. */
  features: FeatureFlags;
}

/**
 * What a quota counts: `rows:<table>`, the tenant's rows in that table of the tenant schema, or
 * `storage_bytes`, the size of the tenant's rows in every tenant table.
 */
export type QuotaMeasure = `rows:${string}` | 'storage_bytes';

/** One quota of a tier: its name (the key in limits, usage and quota_exceeded), what it counts, its limit. */
export interface TierQuota {
  name: string;
  counts: QuotaMeasure;
  /** null: measured and reported, never limited. */
  max: number | null;
}

export interface ServerRecord {
  id: string;
  host: string;
  port: number;
  appRole: string;
  /** The server's connection budget: tenantplane never opens more than this many connections to it. */
  maxConnections: number;
  /** The server's region; null: none (only unpinned tenants are placed on it). */
  region: string | null;
  /** A draining server takes no new placements; the tenants already on it stay until moved. */
  draining: boolean;
  createdAt: Date;
}

export interface DatabaseRecord {
  id: string;
  kind: Placement;
  serverId: string;
  databaseName: string;
  status: DatabaseStatus;
  createdAt: Date;
}

export interface TenantRecord {
  id: string;
  name: string;
  tier: string;
  status: TenantStatus;
  databaseId: string | null;
  /** The tenant's own request rate, overriding its tier's; null keeps the tier's. */
  requestsPerMinute: number | null;
  /** The region the tenant is pinned to: it is only placed on servers of that region. null: unpinned. */
  region: string | null;
  /** The tenant's own feature flags, overriding its tier's defaults. */
  featureOverrides: FeatureFlags;
  createdAt: Date;
  updatedAt: Date;
}

/** What a tenant may use: its tier's limits with the tenant's overrides applied. */
export interface TenantLimits {
  requestsPerMinute: number;
  /** Its tier's quotas; none for a tier without any. */
  quotas: readonly TierQuota[];
}

/** Everything the router needs to reach a tenant's rows. */
export interface TenantRoute {
  tenantId: string;
  status: TenantStatus;
  tier: string;
  placement: Placement;
  poolSize: number;
  databaseId: string;
  databaseName: string;
  serverId: string;
  serverMaxConnections: number;
  /** Rate limit and quotas, cached with the route so no request needs a catalog query for them. */
  limits: TenantLimits;
  /** Effective feature flags (the tier's overlaid by the tenant's), frozen and shared between routes. */
  features: FeatureFlags;
}

/** The catalog id of a tenant's dedicated database; ':' never appears in a shard id, so the two cannot clash. */
export function dedicatedDatabaseId(tenantId: string): string {
  return `tenant:${tenantId}`;
}
