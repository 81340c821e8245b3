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
  createdAt: Date;
  updatedAt: Date;
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
}

/** The catalog id of a tenant's dedicated database; ':' never appears in a shard id, so the two cannot clash. */
export function dedicatedDatabaseId(tenantId: string): string {
  return `tenant:${tenantId}`;
}
