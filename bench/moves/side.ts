/**
 * bench:moves' sides: one per plane (an admin and a cutover) and tenant size, each a tenant seeded on the
 * plane's shard; its rows wherever the catalog places it.
 */
import { DevIssuer } from '../../src/auth/dev-issuer.js';
import { adminQuery } from '../../test/support/test-plane.js';
import type { AdminPlane } from '../lib/admin-planes.js';

export const SHARD = 'shard-one';
export const SERVER = 'pg-bench';

/** Each round moves each tenant there and back: shard tier (starter) → enterprise → starter. */
export const DIRECTIONS = [
  { name: 'to dedicated', tier: 'enterprise' },
  { name: 'to shard', tier: 'starter' },
] as const;
export type Direction = (typeof DIRECTIONS)[number]['name'];

/** How a plane's moves find what changed during the copy (its MOVE_CUTOVER). */
export const CUTOVERS = ['capture', 'compare'] as const;
export type CutoverName = (typeof CUTOVERS)[number];

export const CUTOVER_HELP = `  --cutover C        capture, compare or both (default capture: the planes' MOVE_CUTOVER; both: the two
                     interleaved, a plane each, with their ratio)`;

export function parseCutovers(value: string): CutoverName[] {
  if (value === 'both') return [...CUTOVERS];
  const cutover = CUTOVERS.find((name) => name === value);
  if (!cutover) throw new Error('--cutover must be capture, compare or both');
  return [cutover];
}

/** The environment of each cutover's plane. */
export function cutoverVariants(cutovers: CutoverName[]): Record<string, Record<string, string>> {
  return Object.fromEntries(cutovers.map((cutover) => [cutover, { MOVE_CUTOVER: cutover }]));
}

export interface Side extends AdminPlane {
  cutover: CutoverName;
  /** Rows seeded into the tenant. */
  rows: number;
  tenantId: string;
  base: string;
  tenantToken: string;
  adminToken: string;
  /** Every row id the API acknowledged (201) so far, over all moves of this tenant: none is ever deleted. */
  acknowledged: Set<string>;
}

/** The tenant of a size: `mover-<rows>`. */
export function tenantOf(rows: number): string {
  return `mover-${rows}`;
}

/**
 * A plane's service with a starter tenant per size on the shard, each with its rows seeded straight into
 * the shard database (INSERT ... SELECT generate_series: a million rows take seconds, not minutes).
 */
export async function prepare(entry: AdminPlane, sizes: number[]): Promise<Side[]> {
  const { plane } = entry;
  const cutover = (entry.variant ?? 'capture') as CutoverName;
  // Quotas are not what this measures: writes run flat out, past a starter's.
  await adminQuery(
    `${plane.prefix}_control`,
    'UPDATE tiers SET max_users = NULL, max_deployments = NULL, max_workflows = NULL, max_storage_bytes = NULL',
  );
  await plane.tp.shards.add({ id: SHARD, serverId: SERVER }, { actor: 'bench' });
  const shardDatabase = (await plane.tp.catalog.getDatabase(SHARD))!.databaseName;
  for (const rows of sizes) {
    const tenantId = tenantOf(rows);
    await plane.tp.tenants.create({ id: tenantId, tier: 'starter' }, { actor: 'bench' });
    const workflows = Math.floor(rows / 4);
    await adminQuery(
      shardDatabase,
      `INSERT INTO deployments (tenant_id, project_name, status, url)
         SELECT $1, 'seed-' || n, 'ready', 'https://deploy.example.com/' || md5(n::text)
           FROM generate_series(1, $2::int) n`,
      [tenantId, rows - workflows],
    );
    await adminQuery(
      shardDatabase,
      `INSERT INTO workflows (tenant_id, name, status, config)
         SELECT $1, 'flow-' || n, 'idle', jsonb_build_object('steps', n % 9, 'image', 'node:20')
           FROM generate_series(1, $2::int) n`,
      [tenantId, workflows],
    );
  }
  await adminQuery(shardDatabase, 'VACUUM ANALYZE');
  // Tokens from the plane's development issuer, whose key is in its data folder.
  const issuer = await DevIssuer.load(plane.dataDir);
  const base = await plane.listen();
  const adminToken = await issuer.mint({ admin: true });
  const sides: Side[] = [];
  for (const rows of sizes) {
    const tenantId = tenantOf(rows);
    sides.push({
      ...entry,
      cutover,
      rows,
      tenantId,
      base,
      tenantToken: await issuer.mint({ tenantId }),
      adminToken,
      acknowledged: new Set(),
    });
  }
  return sides;
}

/** The database the catalog places the tenant in, and its rows there (read as the superuser). */
export async function tenantRowsNow(side: Side, ids: string[]): Promise<{ total: number; present: number }> {
  const tenant = await side.plane.tp.catalog.requireTenant(side.tenantId);
  const database = (await side.plane.tp.catalog.getDatabase(tenant.databaseId!))!.databaseName;
  const result = await adminQuery<{ total: string; present: string }>(
    database,
    `SELECT (SELECT count(*) FROM deployments WHERE tenant_id = $1)
          + (SELECT count(*) FROM workflows WHERE tenant_id = $1) AS total,
            (SELECT count(*) FROM deployments WHERE tenant_id = $1 AND id = ANY($2::uuid[])) AS present`,
    [side.tenantId, ids],
  );
  return { total: Number(result.rows[0]!.total), present: Number(result.rows[0]!.present) };
}

/** The errors of the tenant's failed move attempts, as the catalog's audit log has them (a job retries once). */
export async function failedAttempts(side: Side): Promise<string[]> {
  const result = await adminQuery<{ error: string }>(
    `${side.plane.prefix}_control`,
    `SELECT details->>'error' AS error FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.move_failed' ORDER BY id`,
    [side.tenantId],
  );
  return result.rows.map((row) => row.error);
}
