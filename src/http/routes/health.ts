import { Router } from 'express';
import type { Knex } from 'knex';
import type { TenantDirectory } from '../../catalog/tenant-directory.js';
import type { Config } from '../../config.js';
import type { InstanceRegistry } from '../../instances/instance-registry.js';
import type { JobQueue } from '../../jobs/job-queue.js';
import type { TenantRateLimiter } from '../../limits/tenant-rate-limiter.js';
import type { Lifecycle } from '../../plane/services.js';

/** How long `/ready` waits for the control database to answer before calling it unreachable, in ms. */
const CONTROL_DATABASE_TIMEOUT_MS = 2000;

/** What `/ready` looks at. */
export interface HealthSources {
  lifecycle: Readonly<Lifecycle>;
  knex: Knex;
  jobs: Pick<JobQueue, 'reachable'>;
  config: Pick<Config, 'redisUrl'>;
  registry: Pick<InstanceRegistry, 'renewingOnTime' | 'validUntil'> | undefined;
  /** A serving instance's change channel; none on a process that serves no tenant traffic. */
  directory?: Pick<TenantDirectory, 'changeChannel'>;
  /** A serving instance's rate limiter; none with RATE_LIMITS=off. */
  rateLimiter?: Pick<TenantRateLimiter, 'mode'> | undefined;
}

/**
 * `/health`: the process is up. `/ready`: it can serve: the control database answers, or (a serving
 * instance) its lease still holds (Redis being down, the catalog's change channel not being known to be
 * alive, or the control database out of reach within the lease only make it `degraded`, see below). Once
 * shutdown has begun it answers 503, so load balancers stop sending.
 */
export function healthRoutes(tp: HealthSources): Router {
  const router = Router();
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/ready', async (_req, res) => {
    if (tp.lifecycle.draining) {
      res.status(503).json({ status: 'shutting_down', checks: {} });
      return;
    }
    const checks: Record<string, string> = {};
    const { registry } = tp;
    if (registry) {
      // The lease renewals are this instance's round trips to the control database: no query needed.
      checks.control_database = registry.renewingOnTime ? 'ok' : 'unreachable';
    } else {
      checks.control_database = (await controlDatabaseAnswers(tp)) ? 'ok' : 'unreachable';
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
    // Cut off from the control database, a serving instance still serves the routes it has for as long as
    // its lease holds (see docs/connection-budget.md); every instance shares that database too, so it stays
    // in the load balancer, degraded, until then.
    const servesCachedRoutes =
      tp.directory !== undefined && registry !== undefined && registry.validUntil() > performance.now();
    const ready = checks.control_database === 'ok' || servesCachedRoutes;
    const degraded =
      checks.control_database === 'unreachable' ||
      checks.redis === 'unreachable' ||
      checks.rate_limit === 'degraded_local' ||
      checks.catalog_changes === 'degraded';
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? (degraded ? 'degraded' : 'ready') : 'not_ready', checks });
  });
  return router;
}

/** One round trip to the control database, given at most CONTROL_DATABASE_TIMEOUT_MS. */
async function controlDatabaseAnswers(tp: Pick<HealthSources, 'knex'>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    // A control database that stopped answering (rather than refusing) must not hold the probe open.
    await Promise.race([
      tp.knex.raw('SELECT 1'),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), CONTROL_DATABASE_TIMEOUT_MS);
      }),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
