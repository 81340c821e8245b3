import { Router } from 'express';
import type { Catalog } from '../../catalog/catalog.js';
import type { ServerRecord } from '../../catalog/records.js';
import { assertSlug } from '../../ids.js';
import { actorOf } from '../request-actor.js';

/** A server as the admin API shows it: where it is and whether it takes placements, never a secret. */
export interface ServerView {
  id: string;
  host: string;
  port: number;
  region: string | null;
  draining: boolean;
  max_connections: number;
  created_at: string;
}

export function serverView(server: ServerRecord): ServerView {
  return {
    id: server.id,
    host: server.host,
    port: server.port,
    region: server.region,
    draining: server.draining,
    max_connections: server.maxConnections,
    created_at: server.createdAt.toISOString(),
  };
}

/** The admin API's servers under /admin/v1/servers. */
export function adminServersApi(deps: { catalog: Pick<Catalog, 'setServerDraining'> }): Router {
  const router = Router();

  // Taking placements again; draining (which moves tenants off first) is a job of its own.
  router.post('/servers/:id/undrain', async (req, res) => {
    const id = assertSlug(req.params.id, 'server id');
    res.json(serverView(await deps.catalog.setServerDraining(id, false, actorOf(req))));
  });

  return router;
}
