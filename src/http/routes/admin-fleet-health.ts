import { Router } from 'express';
import type { Knex } from 'knex';
import { BackupHealth } from '../../backup/monitoring/backup-health.js';
import { tierUsage } from '../../usage/tier-usage.js';
import { parseUsageRange } from '../../usage/usage-range.js';

/**
 * `GET /admin/v1/usage/tiers?from=&to=`: requests and errors per tier and hour (default: the last day);
 * `GET /admin/v1/fleet/backups-overdue`: tenants of scheduled tiers whose backups are overdue. The Fleet
 * page's health at a glance, from the catalog alone.
 */
export function adminFleetHealthApi(tp: { knex: Knex }): Router {
  const router = Router();
  const health = new BackupHealth(tp.knex);

  router.get('/usage/tiers', async (req, res) => {
    const range = parseUsageRange({ from: req.query.from, to: req.query.to });
    const data = await tierUsage(tp.knex, range.from, range.to);
    res.json({ from: range.from, to: range.to, data });
  });

  router.get('/fleet/backups-overdue', async (_req, res) => {
    res.json({ data: await health.overdueTenants() });
  });

  return router;
}
