import { Router } from 'express';
import { type BackupServices, backupView } from '../../backup/backup-jobs.js';
import { assertArchiveId } from '../../backup/backup-operations.js';
import { setBackupHold } from '../../backup/retention/legal-holds.js';
import { scheduleView } from '../../backup/schedules/backup-schedules.js';
import { parseDuration } from '../../backup/schedules/duration.js';
import { InvalidFieldError } from '../../errors/index.js';
import { assertSlug } from '../../ids.js';
import { actorOf } from '../request-actor.js';
import { bodyFields } from '../request-fields.js';

/** An optional field: absent or null is null, else it must be a whole number from 1. */
function optionalCount(value: unknown, name: string): number | null {
  if (value === undefined || value === null) return null;
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new InvalidFieldError(`${name} must be a whole number from 1`, { field: name });
  }
  return value as number;
}

/**
 * Backup schedules per tier (`/backup-schedules`) and legal holds on a tenant's backups, under /admin/v1.
 * Changes are audited (`backup_schedule.set`, `backup_schedule.clear`, `tenant.backup.hold`,
 * `tenant.backup.release`).
 */
export function adminBackupSchedulesApi(backups: BackupServices): Router {
  const router = Router();

  router.get('/backup-schedules', async (_req, res) => {
    res.json({ data: (await backups.schedules.list()).map(scheduleView) });
  });

  router.put('/backup-schedules/:tier', async (req, res) => {
    const body = bodyFields(req, ['every', 'keep', 'keep_days', 'drill_every'], ['every', 'keep']);
    const keep = optionalCount(body.keep, 'keep');
    const schedule = await backups.schedules.set(
      {
        tier: req.params.tier,
        everySeconds: parseDuration(body.every, 'every'),
        keepCount: keep as number,
        keepDays: optionalCount(body.keep_days, 'keep_days'),
        drillEverySeconds:
          body.drill_every === undefined || body.drill_every === null
            ? null
            : parseDuration(body.drill_every, 'drill_every'),
      },
      actorOf(req),
    );
    res.json(scheduleView(schedule));
  });

  router.delete('/backup-schedules/:tier', async (req, res) => {
    await backups.schedules.clear(req.params.tier, actorOf(req));
    res.status(204).end();
  });

  for (const [action, held] of [
    ['hold', true],
    ['release', false],
  ] as const) {
    router.post(`/tenants/:id/backups/:backup_id/${action}`, async (req, res) => {
      bodyFields(req, []);
      const backup = await setBackupHold(
        backups.deps,
        assertSlug(req.params.id),
        assertArchiveId(req.params.backup_id),
        held,
        actorOf(req),
      );
      res.json(backupView(backup));
    });
  }

  return router;
}
