/** Rows of the control-plane catalog, as the rest of the code sees them. */

export type Placement = 'shard' | 'dedicated';
export type TenantStatus = 'provisioning' | 'active' | 'suspended' | 'moving' | 'deleting' | 'deleted';
export type DatabaseStatus = 'creating' | 'ready' | 'dropping';

export interface TierRecord {
  id: string;
  placement: Placement;
  poolSize: number;
  requestsPerMinute: number;
  maxUsers: number | null;
  maxDeployments: number | null;
  maxWorkflows: number | null;
  maxStorageBytes: number | null;
}

export interface ServerRecord {
  id: string;
  host: string;
  port: number;
  appRole: string;
  /** The server's connection budget: tenantplane never opens more than this many connections to it. */
  maxConnections: number;
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
  createdAt: Date;
  updatedAt: Date;
}

/** What a tenant may use: its tier's limits with the tenant's overrides applied. Quotas: null is unlimited. */
export interface TenantLimits {
  requestsPerMinute: number;
  users: number | null;
  deployments: number | null;
  workflows: number | null;
  storageBytes: number | null;
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
}

/** The catalog id of a tenant's dedicated database; ':' never appears in a shard id, so the two cannot clash. */
export function dedicatedDatabaseId(tenantId: string): string {
  return `tenant:${tenantId}`;
}
