/** bench:moves' side of one admin: its plane, the moving tenant seeded on the shard, its rows wherever it is. */
import { DevIssuer } from '../../src/auth/dev-issuer.js';
import { adminQuery } from '../../test/support/test-plane.js';
import type { AdminPlane } from '../lib/admin-planes.js';

export const TENANT = 'mover';
export const SHARD = 'shard-one';
export const SERVER = 'pg-bench';

/** Each round moves the tenant there and back: shard tier (starter) → enterprise → starter. */
export const DIRECTIONS = [
  { name: 'to dedicated', tier: 'enterprise' },
  { name: 'to shard', tier: 'starter' },
] as const;
export type Direction = (typeof DIRECTIONS)[number]['name'];

export interface Side extends AdminPlane {
  base: string;
  tenantToken: string;
  adminToken: string;
  /** Every row id the API acknowledged (201) so far, over all moves: none is ever deleted. */
  acknowledged: Set<string>;
}

/** A plane's service with the tenant on the shard, `rows` rows seeded straight into the shard database. */
export async function prepare(entry: AdminPlane, rows: number): Promise<Side> {
  const { plane } = entry;
  // Quotas are not what this measures: writes run flat out, past a starter's.
  await adminQuery(
    `${plane.prefix}_control`,
    'UPDATE tiers SET max_users = NULL, max_deployments = NULL, max_workflows = NULL, max_storage_bytes = NULL',
  );
  await plane.tp.shards.add({ id: SHARD, serverId: SERVER }, { actor: 'bench' });
  await plane.tp.tenants.create({ id: TENANT, tier: 'starter' }, { actor: 'bench' });
  const shardDatabase = (await plane.tp.catalog.getDatabase(SHARD))!.databaseName;
  const workflows = Math.floor(rows / 4);
  await adminQuery(
    shardDatabase,
    `INSERT INTO deployments (tenant_id, project_name, status, url)
       SELECT $1, 'seed-' || n, 'ready', 'https://deploy.example.com/' || md5(n::text)
         FROM generate_series(1, $2::int) n`,
    [TENANT, rows - workflows],
  );
  await adminQuery(
    shardDatabase,
    `INSERT INTO workflows (tenant_id, name, status, config)
       SELECT $1, 'flow-' || n, 'idle', jsonb_build_object('steps', n % 9, 'image', 'node:20')
         FROM generate_series(1, $2::int) n`,
    [TENANT, workflows],
  );
  await adminQuery(shardDatabase, 'VACUUM ANALYZE');
  // Tokens from the plane's development issuer, whose key is in its data folder.
  const issuer = await DevIssuer.load(plane.dataDir);
  return {
    ...entry,
    base: await plane.listen(),
    tenantToken: await issuer.mint({ tenantId: TENANT }),
    adminToken: await issuer.mint({ admin: true }),
    acknowledged: new Set(),
  };
}

/** The database the catalog places the tenant in, and its rows there (read as the superuser). */
export async function tenantRowsNow(side: Side, ids: string[]): Promise<{ total: number; present: number }> {
  const tenant = await side.plane.tp.catalog.requireTenant(TENANT);
  const database = (await side.plane.tp.catalog.getDatabase(tenant.databaseId!))!.databaseName;
  const result = await adminQuery<{ total: string; present: string }>(
    database,
    `SELECT (SELECT count(*) FROM deployments WHERE tenant_id = $1)
          + (SELECT count(*) FROM workflows WHERE tenant_id = $1) AS total,
            (SELECT count(*) FROM deployments WHERE tenant_id = $1 AND id = ANY($2::uuid[])) AS present`,
    [TENANT, ids],
  );
  return { total: Number(result.rows[0]!.total), present: Number(result.rows[0]!.present) };
}

/** The errors of the tenant's failed move attempts, as the catalog's audit log has them (a job retries once). */
export async function failedAttempts(side: Side): Promise<string[]> {
  const result = await adminQuery<{ error: string }>(
    `${side.plane.prefix}_control`,
    `SELECT details->>'error' AS error FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.move_failed' ORDER BY id`,
    [TENANT],
  );
  return result.rows.map((row) => row.error);
}
