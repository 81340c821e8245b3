/**
 * `npm run bench:backup-fleet`: 1,000 shard tenants and 50 dedicated ones (a few rows each) backed up by
 * one round of the backup schedule, every tenant due at once, on real `tenantctl worker` processes over
 * BullMQ; the round's wall time against the same backups requested one after another on the same workers,
 * and the peak connections per server against its budget. See README.md.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { BullJobQueue } from '../../src/jobs/bullmq-job-queue.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { TEST_REDIS_URL } from '../../test/setup/hooks.js';
import { createTestPlane } from '../../test/support/test-plane.js';
import type { Plane } from '../lib/admin-planes.js';
import { cleanUpOnSignal, closeWithin, dropScope, once } from '../lib/cleanup.js';
import { log, warn } from '../lib/log.js';
import { numberOption, parseFlags } from '../lib/options.js';
import { removeEmptyLogs, resultFiles, writeJson } from '../lib/results.js';
import { buildFleet, type FleetSettings } from './fleet.js';
import { report } from './report.js';
import { scheduledRound, sequentialBackups } from './rounds.js';
import { startWorkers, type Workers } from './workers.js';

const HELP = `npm run bench:backup-fleet -- [flags]

  --shard-tenants N    tenants on shards, tier starter (default 1000)
  --dedicated N        tenants with a database of their own, tier enterprise (default 50)
  --rows N             rows per table and tenant (default 5)
  --servers N          the local PostgreSQL registered N times, an admin role each (default 2)
  --shards N           shards per server (default 2)
  --max-connections N  each server's budget (default 40: 4 scheduled backups at once)
  --workers N          tenantctl worker processes (default 2)
  --concurrency N      jobs per queue per worker (default 4)
  --sample-ms N        pg_stat_activity sampling interval (default 20)
  --help
`;

async function main(): Promise<void> {
  const startedAt = new Date();
  const values = parseFlags(
    process.argv.slice(2),
    {
      'shard-tenants': { type: 'string' },
      dedicated: { type: 'string' },
      rows: { type: 'string' },
      servers: { type: 'string' },
      shards: { type: 'string' },
      'max-connections': { type: 'string' },
      workers: { type: 'string' },
      concurrency: { type: 'string' },
      'sample-ms': { type: 'string' },
    },
    HELP,
  );
  if (!values) return;
  const settings: FleetSettings = {
    shardTenants: numberOption('shard-tenants', values['shard-tenants'], 1000),
    dedicatedTenants: numberOption('dedicated', values.dedicated, 50, { min: 0 }),
    rows: numberOption('rows', values.rows, 5),
    servers: numberOption('servers', values.servers, 2),
    shardsPerServer: numberOption('shards', values.shards, 2),
    maxConnections: numberOption('max-connections', values['max-connections'], 40),
  };
  const workerCount = numberOption('workers', values.workers, 2);
  const concurrency = numberOption('concurrency', values.concurrency, 4);
  const sampleMs = numberOption('sample-ms', values['sample-ms'], 20);
  const files = resultFiles('backup-fleet', startedAt);
  const jobsPrefix = `tpfleet${randomBytes(4).toString('hex')}`;
  const env = { REDIS_URL: TEST_REDIS_URL, JOBS_PREFIX: jobsPrefix };

  let plane: Plane | undefined;
  let workers: Workers | undefined;
  const cleanup = once(async () => {
    await workers?.stop().catch((error) => warn(`cleanup: stopping the workers failed: ${error}`));
    if (plane) {
      // close() drops the run's databases itself, one by one (about a minute for 50 dedicated ones on a
      // busy machine); dropScope after it only picks up what it did not get to, never beside it.
      await closeWithin(plane.close(), 300000).catch((error) =>
        warn(`cleanup: closing the plane failed: ${error}`),
      );
      await dropScope(plane, warn);
    }
    // The job scheduler and the jobs stay in Redis otherwise: this run's keys go.
    const redis = new Redis(TEST_REDIS_URL);
    const keys = await redis.keys(`${jobsPrefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await removeEmptyLogs(files.prefix);
  });
  cleanUpOnSignal('dropping what the bench made', cleanup, true);
  try {
    plane = await createTestPlane(
      { serveTraffic: false, jobsPrefix },
      {
        ...env,
        BACKUP_URL: `file://${path.join(os.tmpdir(), `${jobsPrefix}-store`)}`,
      },
    );
    const storeEnv = { ...env, BACKUP_URL: `file://${path.join(os.tmpdir(), `${jobsPrefix}-store`)}` };
    log(
      `fleet: ${settings.shardTenants} shard tenants and ${settings.dedicatedTenants} dedicated, ${settings.rows} rows per table each, on ${settings.servers} servers of ${settings.maxConnections} connections`,
    );
    const fleet = await buildFleet(plane, settings);
    workers = await startWorkers(
      plane.tp.jobs as BullJobQueue,
      plane.cliEnv(storeEnv),
      workerCount,
      concurrency,
      files.prefix,
    );
    log(`${workerCount} workers of concurrency ${concurrency}: every backup requested one after another`);
    const sequential = await sequentialBackups(plane, fleet, sampleMs);
    log('one round of the schedule, every tenant due at once');
    const round = await scheduledRound(plane, fleet, ['starter', 'enterprise'], sampleMs);
    const { ratio, targets } = report(fleet, sequential, round);
    await writeJson(files.json, {
      options: { ...settings, workers: workerCount, concurrency, sampleMs },
      loadAverage: os.loadavg(),
      cpus: os.cpus().length,
      sequential,
      round,
      roundOverSequential: ratio,
      targets,
    });
    log(`results: ${path.relative(PACKAGE_ROOT, files.json)}`);
  } finally {
    await cleanup();
    await rm(path.join(os.tmpdir(), `${jobsPrefix}-store`), { recursive: true, force: true });
  }
}

await main();
