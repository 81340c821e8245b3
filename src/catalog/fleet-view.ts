import type { Knex } from 'knex';
import { routerBudget } from './connection-budget.js';

/** A live `serve` or `worker` process and the connections its routers may hold on each server. */
export interface InstanceShare {
  id: string;
  kind: 'serve' | 'worker';
  host: string;
  /** Its part of every server's router budget, in millionths. */
  sharePpm: number;
  /** What its routers held per server id at its last heartbeat; a server it holds nothing on is absent. */
  connections: Record<string, { inUse: number; idle: number }>;
}

/** A server with what is placed on it and how its connection budget is divided. */
export interface ServerFleetView {
  id: string;
  region: string | null;
  draining: boolean;
  maxConnections: number;
  /** What every instance's routers together may hold: the router's share of max_connections. */
  routerBudget: number;
  shards: number;
  dedicatedDatabases: number;
  tenants: number;
}

/** A shard with its live tenants and their bytes as last measured (tenant_sizes, by rebalances). */
export interface ShardFleetView {
  id: string;
  serverId: string;
  status: string;
  tenants: number;
  /** The tenants' rows as last measured while they were on this shard; 0 when none was measured. */
  bytes: number;
}

/** Live instances: those whose lease has not lapsed. */
export async function liveInstances(knex: Knex): Promise<InstanceShare[]> {
  const rows = await knex('instances')
    .whereRaw("heartbeat_at + lease_ms * interval '1 millisecond' > now()")
    .orderBy([{ column: 'kind' }, { column: 'started_at' }])
    .select('id', 'kind', 'host', 'router_share_ppm', 'connections');
  return rows.map(
    (row: {
      id: string;
      kind: 'serve' | 'worker';
      host: string;
      router_share_ppm: number;
      connections: Record<string, { in_use: number; idle: number }>;
    }) => ({
      id: row.id,
      kind: row.kind,
      host: row.host,
      sharePpm: row.router_share_ppm,
      connections: Object.fromEntries(
        Object.entries(row.connections).map(([serverId, held]) => [
          serverId,
          { inUse: held.in_use, idle: held.idle },
        ]),
      ),
    }),
  );
}

/** Every server with its databases and tenants counted, in one query. */
export async function serverFleet(knex: Knex): Promise<ServerFleetView[]> {
  const rows = await knex.raw<{ rows: Array<Record<string, unknown>> }>(
    `SELECT s.id, s.region, s.draining, s.max_connections,
            count(DISTINCT d.id) FILTER (WHERE d.kind = 'shard')::int AS shards,
            count(DISTINCT d.id) FILTER (WHERE d.kind = 'dedicated')::int AS dedicated,
            count(t.id)::int AS tenants
     FROM servers s
     LEFT JOIN databases d ON d.server_id = s.id
     LEFT JOIN tenants t ON t.database_id = d.id AND t.status <> 'deleted'
     GROUP BY s.id
     ORDER BY s.id`,
  );
  return rows.rows.map((row) => {
    const maxConnections = row.max_connections as number;
    return {
      id: row.id as string,
      region: (row.region as string | null) ?? null,
      draining: row.draining as boolean,
      maxConnections,
      // As the routers work it out (src/routing/tenant-router.ts): at least one connection.
      routerBudget: routerBudget(maxConnections),
      shards: row.shards as number,
      dedicatedDatabases: row.dedicated as number,
      tenants: row.tenants as number,
    };
  });
}

/** Every shard with its live tenants and their measured bytes, in one query. */
export async function shardFleet(knex: Knex): Promise<ShardFleetView[]> {
  const rows = await knex.raw<{ rows: Array<Record<string, unknown>> }>(
    `SELECT d.id, d.server_id, d.status,
            count(t.id)::int AS tenants,
            coalesce(sum(z.bytes), 0)::bigint AS bytes
     FROM databases d
     LEFT JOIN tenants t ON t.database_id = d.id AND t.status <> 'deleted'
     LEFT JOIN tenant_sizes z ON z.tenant_id = t.id AND z.database_id = d.id
     WHERE d.kind = 'shard'
     GROUP BY d.id
     ORDER BY d.id`,
  );
  return rows.rows.map((row) => ({
    id: row.id as string,
    serverId: row.server_id as string,
    status: row.status as string,
    tenants: row.tenants as number,
    bytes: Number(row.bytes),
  }));
}
