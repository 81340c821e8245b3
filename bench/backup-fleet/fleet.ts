/**
 * bench:backup-fleet's fleet: the local PostgreSQL registered as several servers, each through a
 * managed-PostgreSQL-style admin role of its own (so pg_stat_activity tells their connections apart by
 * user), with shards, shard tenants and dedicated tenants spread over them, a few rows each.
 */
import { addManagedServer } from '../../test/support/managed-admin.js';
import { adminQuery, TEST_ACTOR } from '../../test/support/test-plane.js';
import type { Plane } from '../lib/admin-planes.js';
import { log } from '../lib/log.js';

export interface FleetSettings {
  servers: number;
  shardsPerServer: number;
  shardTenants: number;
  dedicatedTenants: number;
  /** Rows per tenant table. */
  rows: number;
  maxConnections: number;
}

export interface FleetServer {
  id: string;
  /** Its admin role: every connection tenantplane makes to this server logs in as it. */
  role: string;
  maxConnections: number;
}

export interface Fleet {
  servers: FleetServer[];
  /** Every tenant, in creation order: shard tenants first. */
  tenants: string[];
  /** Tenant id → its server id. */
  serverOf: Map<string, string>;
}

const CREATE_CONCURRENCY = 6;

/** Runs `work` over `items`, `concurrency` at a time. */
async function eachLimited<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}

/** Registers the servers and shards and creates the tenants (untimed setup); answers where each went. */
export async function buildFleet(plane: Plane, settings: FleetSettings): Promise<Fleet> {
  const servers: FleetServer[] = [];
  for (let s = 0; s < settings.servers; s += 1) {
    const id = `pg-${String.fromCharCode(97 + s)}`;
    const url = await addManagedServer(plane, id, settings.maxConnections);
    servers.push({
      id,
      role: decodeURIComponent(new URL(url).username),
      maxConnections: settings.maxConnections,
    });
    for (let h = 0; h < settings.shardsPerServer; h += 1) {
      await plane.tp.shards.add({ id: `${id}-shard-${h}`, serverId: id }, TEST_ACTOR);
    }
  }
  const shardTenants = Array.from({ length: settings.shardTenants }, (_, i) => `fleet-s${i}`);
  const dedicatedTenants = Array.from({ length: settings.dedicatedTenants }, (_, i) => `fleet-d${i}`);
  let created = 0;
  const create = (tier: string) => async (id: string) => {
    await plane.tp.tenants.create({ id, tier }, TEST_ACTOR);
    created += 1;
    if (created % 100 === 0) log(`  ${created} tenants created (${Math.round(performance.now() / 1000)} s)`);
  };
  await eachLimited(shardTenants, CREATE_CONCURRENCY, create('starter'));
  await eachLimited(dedicatedTenants, 2, create('enterprise'));

  const placed = await plane.tp
    .knex('tenants as t')
    .join('databases as d', 'd.id', 't.database_id')
    .whereIn('t.id', [...shardTenants, ...dedicatedTenants])
    .select('t.id as tenant_id', 'd.server_id', 'd.database_name as database');
  const serverOf = new Map<string, string>();
  const byDatabase = new Map<string, string[]>();
  for (const row of placed as Array<{ tenant_id: string; server_id: string; database: string }>) {
    serverOf.set(row.tenant_id, row.server_id);
    byDatabase.set(row.database, [...(byDatabase.get(row.database) ?? []), row.tenant_id]);
  }
  // A few rows per table and tenant, as the superuser, one statement per table and database.
  const inserts = [
    `INSERT INTO deployments (tenant_id, project_name, status)
       SELECT t, 'project-' || n, 'ready' FROM unnest($1::text[]) t, generate_series(1, $2) n`,
    `INSERT INTO users (tenant_id, email)
       SELECT t, t || '-' || n || '@example.com' FROM unnest($1::text[]) t, generate_series(1, $2) n`,
    `INSERT INTO workflows (tenant_id, name, status)
       SELECT t, 'flow-' || n, 'idle' FROM unnest($1::text[]) t, generate_series(1, $2) n`,
  ];
  for (const [database, tenants] of byDatabase) {
    for (const insert of inserts) await adminQuery(database, insert, [tenants, settings.rows]);
  }
  return { servers, tenants: [...shardTenants, ...dedicatedTenants], serverOf };
}
