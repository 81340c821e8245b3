import { type Request, Router } from 'express';
import type { BackupServices } from '../../backup/backup-jobs.js';
import { requestBackup, requestExport, requestRestore } from '../../backup/backup-operations.js';
import { listBackupsWithDrills } from '../../backup/drills/backup-list.js';
import { InvalidFieldError } from '../../errors/index.js';
import { assertSlug } from '../../ids.js';
import { actorOf } from '../request-actor.js';
import { bodyFields } from '../request-fields.js';

/** `Idempotency-Key`: the same key (per tenant and kind) always answers with the same job. */
function idempotencyKey(req: Request): string | undefined {
  const key = req.get('idempotency-key');
  return key === undefined || key === '' ? undefined : key;
}

/** Exports, backups and restores of one tenant, under /admin/v1; each queues a job and answers 202. */
export function adminBackupsApi(backups: BackupServices): Router {
  const router = Router();

  router.post('/tenants/:id/exports', async (req, res) => {
    bodyFields(req, []);
    const queued = await requestExport(backups, assertSlug(req.params.id), {
      actor: actorOf(req),
      idempotencyKey: idempotencyKey(req),
    });
    res.status(202).json({ job_id: queued.jobId, export_id: queued.requestId });
  });

  router.post('/tenants/:id/backups', async (req, res) => {
    const { compress } = bodyFields(req, ['compress']);
    if (compress !== undefined && typeof compress !== 'boolean') {
      throw new InvalidFieldError('compress must be true or false');
    }
    const queued = await requestBackup(backups, assertSlug(req.params.id), {
      ...(compress === undefined ? {} : { compress }),
      actor: actorOf(req),
      idempotencyKey: idempotencyKey(req),
    });
    res.status(202).json({ job_id: queued.jobId, backup_id: queued.requestId });
  });

  router.get('/tenants/:id/backups', async (req, res) => {
    const tenant = await backups.deps.catalog.requireTenant(assertSlug(req.params.id));
    res.json({ data: await listBackupsWithDrills(backups, tenant.id) });
  });

  router.post('/tenants/:id/restores', async (req, res) => {
    const body = bodyFields(req, ['backup_id', 'into', 'tier']);
    const queued = await requestRestore(backups, assertSlug(req.params.id), {
      backupId: body.backup_id,
      into: body.into,
      tier: body.tier,
      actor: actorOf(req),
      idempotencyKey: idempotencyKey(req),
    });
    res.status(202).json({ job_id: queued.jobId });
  });

  return router;
}
