import { randomUUID } from 'node:crypto';
import type { Catalog } from '../catalog/catalog.js';
import { InvalidInputError } from '../errors/index.js';
import type { JobHandler, JobQueue } from '../jobs/job-queue.js';
import type { FleetMigrations } from './fleet-migrations.js';
import type { FleetRunOptions, TargetExecutor } from './fleet-runner.js';
import { migrateTarget, type TargetPlan } from './target-migrator.js';

/** One database of a fleet run, as a job. */
export const MIGRATION_TARGET_QUEUE = 'migration-target';
/** A whole fleet run started from the admin API. */
export const MIGRATION_RUN_QUEUE = 'migration-run';

interface TargetJobData {
  runId: string | undefined;
  databaseId: string;
  plan: TargetPlan;
  canary: boolean;
}

/**
 * Spreads a run's databases over `tenantctl worker` processes: each database becomes a job, and the
 * runner waits for its result. Ledger and locks are the same, so local and distributed runs mix safely.
 */
export function distributedExecutor(jobs: JobQueue): TargetExecutor {
  return async (runId, database, plan, canary) => {
    // ':' is not allowed in job ids; ids never contain '_', so this stays unique.
    const jobId = `${runId ?? `dry-${randomUUID()}`}.${database.id.replace(':', '_')}`;
    const data: TargetJobData = { runId, databaseId: database.id, plan, canary };
    // A failing database is a completed job with status failed; a retry is for a worker that died.
    await jobs.enqueue(MIGRATION_TARGET_QUEUE, data, { jobId, attempts: 3, backoffMs: 500 });
    return (await jobs.wait(MIGRATION_TARGET_QUEUE, jobId)) as Awaited<ReturnType<TargetExecutor>>;
  };
}

/** What the migration jobs run with. */
export interface MigrationJobDeps {
  catalog: Pick<Catalog, 'getDatabase'>;
  migrations: Pick<FleetMigrations, 'runner'>;
}

export function migrationJobHandlers(deps: MigrationJobDeps): Record<string, JobHandler> {
  const targetJob = async (data: TargetJobData) => {
    const runner = await deps.migrations.runner();
    const database = await deps.catalog.getDatabase(data.databaseId);
    if (!database) throw new InvalidInputError(`no database ${data.databaseId}`, 'unknown_target');
    return migrateTarget(runner.deps, data.runId, database, data.plan, data.canary);
  };
  const runJob = async (data: FleetRunOptions, context: Parameters<JobHandler>[1]) => {
    const runner = await deps.migrations.runner();
    let done = 0;
    let total = 0;
    runner.on('event', (event) => {
      if (event.type === 'start') total = event.total;
      if (event.type === 'target-done') {
        done += 1;
        void context.progress({ done, total, failed: event.result.status === 'failed' });
      }
    });
    const result = await runner.run(data);
    return {
      run_id: result.runId,
      status: result.status,
      targets: result.targets.length,
      failed: result.failed.map((target) => ({ database_id: target.databaseId, error: target.error })),
    };
  };
  return {
    [MIGRATION_TARGET_QUEUE]: targetJob as JobHandler,
    [MIGRATION_RUN_QUEUE]: runJob as JobHandler,
  };
}
