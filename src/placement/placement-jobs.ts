import type { Actor, Catalog } from '../catalog/catalog.js';
import { assertSlug } from '../ids.js';
import type { JobContext, JobHandler, JobQueue } from '../jobs/job-queue.js';
import { DRAIN_ENDED, type DrainDeps, drainServer } from './server-drain.js';
import { REBALANCE_ENDED, type RebalanceRequest, rebalanceShards } from './shard-rebalance.js';

/** Drains (every tenant off a server), one job per drain. */
export const SERVER_DRAIN_QUEUE = 'server-drain';
/** Shard rebalances, one job per rebalance. */
export const SHARD_REBALANCE_QUEUE = 'shard-rebalance';

interface DrainJobData {
  serverId: string;
  concurrency?: number;
  actor: Actor;
}

interface RebalanceJobData {
  request: RebalanceRequest;
  actor: Actor;
}

export function placementJobHandlers(deps: DrainDeps): Record<string, JobHandler> {
  const drainJob = (data: DrainJobData, context: JobContext) =>
    drainServer(deps, data.serverId, data.actor, { concurrency: data.concurrency }, (progress) =>
      context.progress({ ...progress }),
    );
  const rebalanceJob = (data: RebalanceJobData, context: JobContext) =>
    rebalanceShards(deps, data.request, data.actor, (progress) => context.progress({ ...progress }));
  return {
    [SERVER_DRAIN_QUEUE]: drainJob as JobHandler,
    [SHARD_REBALANCE_QUEUE]: rebalanceJob as JobHandler,
  };
}

/** How many times an audited operation has ended (for job ids: see requestDrain). */
async function endedCount(
  catalog: Catalog,
  action: string,
  details?: Record<string, string>,
): Promise<number> {
  const query = catalog.knex('audit_log').where({ action });
  for (const [key, value] of Object.entries(details ?? {})) query.whereRaw('details ->> ? = ?', [key, value]);
  const row = await query.count<{ count: string }[]>('* as count').first();
  return Number(row?.count ?? 0);
}

/**
 * Queues a drain of the server. The job id names the server and how many drains of it have ended, so the
 * same request twice while one runs is one job; a drain that failed outright may be asked again at once
 * (the queue retries it, and a new request after that starts afresh once it has ended).
 */
export async function requestDrain(
  deps: { catalog: Catalog; jobs: Pick<JobQueue, 'enqueue'> },
  serverId: string,
  actor: Actor,
  options: { concurrency?: number } = {},
): Promise<string> {
  assertSlug(serverId, 'server id');
  await deps.catalog.requireServer(serverId);
  const ended = await endedCount(deps.catalog, DRAIN_ENDED, { server_id: serverId });
  const jobId = `server-drain.${serverId}.${ended + 1}`;
  const data: DrainJobData = {
    serverId,
    actor,
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
  };
  await deps.jobs.enqueue(SERVER_DRAIN_QUEUE, data, { jobId, attempts: 2, backoffMs: 2000 });
  await deps.catalog.audit(actor, 'server.drain_requested', null, { server_id: serverId, job_id: jobId });
  return jobId;
}

/** Queues a rebalance of the shards; the same request twice while one runs is one job. */
export async function requestRebalance(
  deps: { catalog: Catalog; jobs: Pick<JobQueue, 'enqueue'> },
  request: RebalanceRequest,
  actor: Actor,
): Promise<string> {
  const ended = await endedCount(deps.catalog, REBALANCE_ENDED);
  const jobId = `shard-rebalance.${ended + 1}`;
  const data: RebalanceJobData = { request, actor };
  await deps.jobs.enqueue(SHARD_REBALANCE_QUEUE, data, { jobId, attempts: 1 });
  await deps.catalog.audit(actor, 'shards.rebalance_requested', null, { ...request, job_id: jobId });
  return jobId;
}
