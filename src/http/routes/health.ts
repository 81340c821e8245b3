import { Router } from 'express';
import type { Tenantplane } from '../../tenantplane.js';

/** How long `/ready` waits for the control database to answer before calling it unreachable, in ms. */
const CONTROL_DATABASE_TIMEOUT_MS = 2000;

/**
 * `/health`: the process is up. `/ready`: it can serve: the control database answers (Redis being down, or
 * the catalog's change channel not being known to be alive, only makes it `degraded`, see below). Once
 * shutdown has begun it answers 503, so load balancers stop sending.
 */

export function healthRoutes(tp: Tenantplane): Router {
  const router = Router();
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/ready', async (_req, res) => {
    if (tp.draining) {
      res.status(503).json({ status: 'shutting_down', checks: {} });
      return;
    }
    const checks: Record<string, string> = {};
    let timer: NodeJS.Timeout | undefined;
    try {
      // A control database that stopped answering (rather than refusing) must not hold the probe open.
      await Promise.race([
        tp.knex.raw('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('timed out')), CONTROL_DATABASE_TIMEOUT_MS);
        }),
      ]);
      checks.control_database = 'ok';
    } catch {
      checks.control_database = 'unreachable';
    } finally {
      clearTimeout(timer);
    }
    if (tp.directory) checks.catalog_changes = tp.directory.changeChannel === 'live' ? 'ok' : 'degraded';
    checks.redis = !tp.config.redisUrl
      ? 'not_configured'
      : (await tp.jobs.reachable())
        ? 'ok'
        : 'unreachable';
    checks.rate_limit = tp.rateLimiter?.mode ?? 'off';
    // Redis down degrades (rate limits count per process, jobs cannot be queued) but does not make the
    // instance unready: all instances share that Redis, so failing readiness would take every one of them
    // out of the load balancer and turn a degradation into an outage. The same holds for the catalog's
    // change channel: while it is not known to be alive, lookups are re-read from the catalog every second
    // instead, and every instance listens on the same database.
    const ready = checks.control_database === 'ok';
    const degraded =
      checks.redis === 'unreachable' ||
      checks.rate_limit === 'degraded_local' ||
      checks.catalog_changes === 'degraded';
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? (degraded ? 'degraded' : 'ready') : 'not_ready', checks });
  });
  return router;
}
