import { Router } from 'express';
import type { BackupServices } from '../../backup/backup-jobs.js';
import { requestDrill } from '../../backup/drills/drill-jobs.js';
import { InvalidInputError, UnknownFieldError } from '../../errors/index.js';
import { assertSlug } from '../../ids.js';
import type { JobQueue } from '../../jobs/job-queue.js';
import { actorOf } from '../request-actor.js';

/** Restore drills of a tenant's backups, under /admin/v1: each queues a job and answers 202. */
export function adminBackupDrillsApi(services: { backups: BackupServices; jobs: JobQueue }): Router {
  const router = Router();

  router.post('/tenants/:id/backups/:backup_id/drills', async (req, res) => {
    const body = (req.body ?? {}) as unknown;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new InvalidInputError('request body must be a JSON object', 'invalid_body');
    }
    const unknown = Object.keys(body);
    if (unknown.length > 0) throw new UnknownFieldError(`unknown field ${unknown.join(', ')}`);
    const queued = await requestDrill(services, assertSlug(req.params.id), {
      backupId: req.params.backup_id,
      actor: actorOf(req),
    });
    res.status(202).json({ job_id: queued.jobId, backup_id: queued.backupId });
  });

  return router;
}
