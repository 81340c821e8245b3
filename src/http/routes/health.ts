import { Router } from 'express';
import type { Tenantplane } from '../../tenantplane.js';

/**
 * `/health`: the process is up. `/ready`: it can serve: the control database answers, and so does Redis
 * when REDIS_URL is set.
 */
export function healthRoutes(tp: Tenantplane): Router {
  const router = Router();
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/ready', async (_req, res) => {
    const checks: Record<string, string> = {};
    try {
      await tp.knex.raw('SELECT 1');
      checks.control_database = 'ok';
    } catch {
      checks.control_database = 'unreachable';
    }
    checks.catalog_notifications = tp.directory?.listening ? 'ok' : 'reconnecting';
    checks.redis = !tp.config.redisUrl
      ? 'not_configured'
      : (await tp.jobs.reachable())
        ? 'ok'
        : 'unreachable';
    const ready = checks.control_database === 'ok' && checks.redis !== 'unreachable';
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', checks });
  });
  return router;
}
