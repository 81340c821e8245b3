import { randomUUID } from 'node:crypto';
import { type Request, Router } from 'express';
import type { BackupRequests } from '../../backup/backup-requests.js';
import type { Catalog } from '../../catalog/catalog.js';
import {
  InvalidFieldError,
  InvalidInputError,
  NotFoundError,
  UnknownFieldError,
} from '../../errors/index.js';
import type { JobQueue } from '../../jobs/job-queue.js';
import { readQueue } from '../../jobs/queue-read.js';
import type { FleetMigrations } from '../../migrations/fleet-migrations.js';
import type { FleetRunOptions } from '../../migrations/fleet-runner.js';
import { MIGRATION_RUN_QUEUE } from '../../migrations/migration-jobs.js';
import { actorOf } from '../request-actor.js';
import { type JobView, streamJobEvents } from './job-event-stream.js';

function runOptions(req: Request): FleetRunOptions {
  const body = (req.body ?? {}) as Record<string, unknown>;
  if (typeof body !== 'object' || Array.isArray(body))
    throw new InvalidInputError('request body must be a JSON object');
  const allowed = ['direction', 'to', 'concurrency', 'canary', 'target', 'dry_run'];
  const unknown = Object.keys(body).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) throw new UnknownFieldError(`unknown field ${unknown.join(', ')}`);
  const direction = body.direction ?? 'up';
  if (direction !== 'up' && direction !== 'down')
    throw new InvalidFieldError('direction must be "up" or "down"');
  if (direction === 'down' && typeof body.to !== 'string')
    throw new InvalidInputError('a down run needs "to"', 'missing_field');
  const integer = (name: string, min: number) => {
    const value = body[name];
    if (value === undefined) return undefined;
    if (!Number.isInteger(value) || (value as number) < min)
      throw new InvalidFieldError(`${name} must be an integer ≥ ${min}`);
    return value as number;
  };
  const text = (name: string) => {
    const value = body[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.length > 200)
      throw new InvalidFieldError(`${name} must be a string`);
    return value;
  };
  const concurrency = integer('concurrency', 1);
  const canary = integer('canary', 0);
  const to = text('to');
  const target = text('target');
  return {
    direction,
    actor: actorOf(req).actor,
    dryRun: body.dry_run === true,
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(canary === undefined ? {} : { canary }),
    ...(to === undefined ? {} : { to }),
    ...(target === undefined ? {} : { target }),
  };
}

/** A job as GET /admin/v1/jobs/{id} and its event stream show it; undefined for an unknown job. */
async function jobView(tp: AdminMigrationsDeps, id: string): Promise<JobView | undefined> {
  // An export, backup or restore the queue has forgotten (removed once finished, or lost with an inline
  // queue's process) answers from its request in the catalog.
  const job = (await readQueue(tp.jobs, tp.jobs.find(id))) ?? (await tp.backups.requests.jobById(id));
  if (!job) return undefined;
  // The queue keeps a failed job's message only; an export's, backup's or restore's code is in its request.
  let errorCode: string | null | undefined = null;
  if (job.state === 'failed') {
    errorCode = 'errorCode' in job ? job.errorCode : (await tp.backups.requests.jobById(job.id))?.errorCode;
  }
  return {
    id: job.id,
    state: job.state,
    progress: job.progress,
    result: job.result,
    error: job.error,
    error_code: errorCode ?? null,
  };
}

/** What the fleet migration and job routes read, queue and record. */
export interface AdminMigrationsDeps {
  migrations: Pick<FleetMigrations, 'status'>;
  jobs: Pick<JobQueue, 'enqueue' | 'find' | 'reachable'>;
  catalog: Pick<Catalog, 'audit'>;
  /** Export, backup and restore requests, which answer for jobs the queue has forgotten. */
  backups: { requests: Pick<BackupRequests, 'jobById'> };
}

/** Fleet migration status and runs, and job status, under /admin/v1. */
export function adminMigrationsApi(tp: AdminMigrationsDeps): Router {
  const router = Router();

  router.get('/migrations', async (_req, res) => {
    res.json({ data: await tp.migrations.status() });
  });

  router.post('/migrations/runs', async (req, res) => {
    const options = runOptions(req);
    const jobId = `migration-run-${randomUUID()}`;
    await tp.jobs.enqueue(MIGRATION_RUN_QUEUE, options, { jobId, attempts: 1 });
    await tp.catalog.audit({ actor: options.actor, requestId: req.requestId }, 'migration.run', null, {
      ...options,
      jobId,
    });
    res.status(202).json({ job_id: jobId });
  });

  router.get('/jobs/:id', async (req, res) => {
    const job = await jobView(tp, req.params.id);
    if (!job) throw new NotFoundError('no such job', 'job_not_found');
    res.json(job);
  });

  router.get('/jobs/:id/events', async (req, res) => {
    await streamJobEvents(req, res, (id) => jobView(tp, id));
  });

  return router;
}
