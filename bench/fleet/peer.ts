import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Service, startService } from '../router/services.js';
import type { Pgbouncer } from './pgbouncer.js';
import { type FleetPlane, SHARD_POOL_SIZE } from './setup.js';

/**
 * Client connections of the peer's pool for one dedicated database. Small: PgBouncer does the real pooling,
 * and a tenant's requests wait in PgBouncer for a server connection, not in the peer.
 */
export const PEER_DEDICATED_POOL_SIZE = 4;

/**
 * The PgBouncer peer: bench/router's hand-written express + jose + pg server, given a map of every tenant to
 * its database behind PgBouncer, written once before it starts and read once at its start (the hand-written
 * team's shortcut: no catalog, so a tenant created, moved or suspended later is unknown to it). It logs in as
 * tenantplane's application role, so row-level security applies as it does to tenantplane: on a shard each
 * request sets the tenant for its own transaction; on a dedicated database PgBouncer binds every server
 * connection to the tenant when it opens it (`connect_query`), so the request is the plain query.
 * One pg pool per database: PEER_DEDICATED_POOL_SIZE for a dedicated one, and for a shard, which serves
 * hundreds of tenants, as many as tenantplane's shard pool.
 */
export async function startPeer(
  fleet: FleetPlane,
  bouncer: Pgbouncer,
  name: string,
  logFile: string,
  cpuProfileDir?: string,
): Promise<Service> {
  const { credentials, plane } = fleet;
  const login = `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}`;
  const targets: Record<string, { url: string; poolSize: number; setTenant: boolean }> = {};
  for (const tenant of fleet.tenants) {
    const shard = tenant.placement === 'shard';
    targets[tenant.id] = {
      url: `postgres://${login}@${bouncer.host}:${bouncer.port}/${encodeURIComponent(tenant.databaseName)}`,
      poolSize: shard ? SHARD_POOL_SIZE : PEER_DEDICATED_POOL_SIZE,
      setTenant: shard,
    };
  }
  // A file, not an environment variable: thousands of tenants exceed what one variable may hold.
  const mapFile = path.join(plane.scope.dataDir, `${name}-tenants.json`);
  await writeFile(mapFile, JSON.stringify(targets), { mode: 0o600 });
  return startService({
    name,
    script: 'bench/router/baseline-server.ts',
    env: {
      BASELINE_JWKS: JSON.stringify(plane.jwks),
      BASELINE_ISSUER: plane.issuer,
      BASELINE_AUDIENCE: plane.audience,
      BASELINE_TENANTS_FILE: mapFile,
    },
    logFile,
    ...(cpuProfileDir ? { cpuProfileDir } : {}),
  });
}
