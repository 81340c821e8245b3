import { Router } from 'express';
import type { Catalog } from '../../catalog/catalog.js';
import { liveInstances, serverFleet, shardFleet } from '../../catalog/fleet-view.js';

const MILLION = 1_000_000;

/**
 * `GET /admin/v1/fleet/servers` and `GET /admin/v1/fleet/shards`: the fleet at a glance for the console,
 * from the catalog alone (no server is asked, so a server that is down still shows).
 */
export function adminFleetApi(tp: { catalog: Pick<Catalog, 'knex'> }): Router {
  const router = Router();

  router.get('/fleet/servers', async (_req, res) => {
    const [servers, instances] = await Promise.all([
      serverFleet(tp.catalog.knex),
      liveInstances(tp.catalog.knex),
    ]);
    res.json({
      data: servers.map((server) => {
        const shares = instances.map((instance) => ({
          instance_id: instance.id,
          kind: instance.kind,
          host: instance.host,
          may_hold: Math.floor((server.routerBudget * instance.sharePpm) / MILLION),
          in_use: instance.connections[server.id]?.inUse ?? 0,
          idle: instance.connections[server.id]?.idle ?? 0,
        }));
        return {
          id: server.id,
          region: server.region,
          draining: server.draining,
          max_connections: server.maxConnections,
          router_budget: server.routerBudget,
          router_budget_assigned: shares.reduce((sum, share) => sum + share.may_hold, 0),
          // As of each live instance's last heartbeat; a lapsed instance's are not counted.
          connections_in_use: shares.reduce((sum, share) => sum + share.in_use, 0),
          connections_idle: shares.reduce((sum, share) => sum + share.idle, 0),
          instances: shares,
          shards: server.shards,
          dedicated_databases: server.dedicatedDatabases,
          tenants: server.tenants,
        };
      }),
    });
  });

  router.get('/fleet/shards', async (_req, res) => {
    const shards = await shardFleet(tp.catalog.knex);
    res.json({
      data: shards.map((shard) => ({
        id: shard.id,
        server_id: shard.serverId,
        status: shard.status,
        tenants: shard.tenants,
        bytes: shard.bytes,
      })),
    });
  });

  return router;
}
