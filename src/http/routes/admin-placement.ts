import { Router } from 'express';
import type { Catalog } from '../../catalog/catalog.js';
import { InvalidFieldError } from '../../errors/index.js';
import { assertSlug } from '../../ids.js';
import type { JobQueue } from '../../jobs/job-queue.js';
import { parseMoveDestination } from '../../moves/move-destination.js';
import { requestMove } from '../../moves/move-jobs.js';
import type { MoveLedger } from '../../moves/move-ledger.js';
import { requestDrain, requestRebalance } from '../../placement/placement-jobs.js';
import type { PlacementPolicy } from '../../placement/placement-policy.js';
import { planDrain } from '../../placement/server-drain.js';
import { planShardRebalance, type RebalanceRequest } from '../../placement/shard-rebalance.js';
import { actorOf } from '../request-actor.js';
import { bodyFields } from '../request-fields.js';

export interface AdminPlacementDeps {
  catalog: Catalog;
  placement: PlacementPolicy;
  jobs: Pick<JobQueue, 'enqueue'>;
  moves: Pick<MoveLedger, 'endedMoves'>;
  config: { databasePrefix: string };
}

function optionalInteger(body: Record<string, unknown>, name: string, min: number): number | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || (value as number) < min) {
    throw new InvalidFieldError(`${name} must be an integer ≥ ${min}`, { field: name });
  }
  return value as number;
}

function optionalBoolean(body: Record<string, unknown>, name: string): boolean {
  const value = body[name] ?? false;
  if (typeof value !== 'boolean')
    throw new InvalidFieldError(`${name} must be true or false`, { field: name });
  return value;
}

/** Moves, drains and rebalances under /admin/v1: each a job, answered 202 with its id (dry runs at once). */
export function adminPlacementApi(deps: AdminPlacementDeps): Router {
  const router = Router();
  const moveDeps = { ...deps, databasePrefix: deps.config.databasePrefix };

  router.post('/tenants/:id/moves', async (req, res) => {
    const id = assertSlug(req.params.id);
    const body = bodyFields(req, ['to', 'server']);
    const destination = parseMoveDestination(body.to, body.server);
    res.status(202).json({ job_id: await requestMove(moveDeps, id, destination, actorOf(req)) });
  });

  router.post('/servers/:id/drain', async (req, res) => {
    const id = assertSlug(req.params.id, 'server id');
    const body = bodyFields(req, ['dry_run', 'concurrency']);
    const concurrency = optionalInteger(body, 'concurrency', 1);
    if (optionalBoolean(body, 'dry_run')) {
      const plan = await planDrain(deps, id);
      res.json({ server_id: id, moves: plan.steps, stuck: plan.stuck });
      return;
    }
    const jobId = await requestDrain(deps, id, actorOf(req), concurrency ? { concurrency } : {});
    res.status(202).json({ job_id: jobId });
  });

  router.post('/rebalance', async (req, res) => {
    const body = bodyFields(req, ['dry_run', 'max_moves', 'min_gain_bytes']);
    const request: RebalanceRequest = {};
    const maxMoves = optionalInteger(body, 'max_moves', 1);
    const minGain = optionalInteger(body, 'min_gain_bytes', 0);
    if (maxMoves !== undefined) request.maxMoves = maxMoves;
    if (minGain !== undefined) request.minGainBytes = minGain;
    if (optionalBoolean(body, 'dry_run')) {
      res.json(await planShardRebalance(deps.catalog, request));
      return;
    }
    res.status(202).json({ job_id: await requestRebalance(deps, request, actorOf(req)) });
  });

  return router;
}
