import type { Catalog } from '../catalog/catalog.js';
import { ConfigError } from '../errors/index.js';
import type { JobQueue } from '../jobs/job-queue.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { FleetRunner } from './fleet-runner.js';
import { type DatabaseMigrationStatus, fleetStatus } from './fleet-status.js';
import { distributedExecutor } from './migration-jobs.js';
import type { MigrationLedger } from './migration-ledger.js';
import { loadMigrations } from './migration-source.js';

export interface FleetMigrationsOptions {
  catalog: Catalog;
  ledger: MigrationLedger;
  /** Folder of tenant migrations, read again for every run. */
  migrationsDir: string;
  logger: Logger;
  metrics: Pick<Metrics, 'recordMigrationRun'>;
  /** Where a distributed run's databases go as jobs. */
  jobs: JobQueue;
}

/** Fleet runs and status over the tenant migrations as they are on disk at the time. */
export class FleetMigrations {
  constructor(private readonly options: FleetMigrationsOptions) {}

  /**
   * A fleet runner over the tenant migrations as they are on disk now. `distributed` spreads the databases
   * over `tenantctl worker` processes through the job queue (needs REDIS_URL).
   */
  async runner(options: { distributed?: boolean } = {}): Promise<FleetRunner> {
    const { catalog, ledger, logger, metrics, jobs } = this.options;
    if (options.distributed && !jobs.distributed) {
      throw new ConfigError('distributed migrations need REDIS_URL and at least one `tenantctl worker`');
    }
    const migrations = await loadMigrations(this.options.migrationsDir);
    const runner = new FleetRunner({
      catalog,
      ledger,
      migrations,
      logger,
      ...(options.distributed ? { executor: distributedExecutor(jobs) } : {}),
    });
    runner.on('event', (event) => {
      if (event.type === 'finish' && !event.dryRun) {
        metrics.recordMigrationRun(event.direction, event.status, event.failed);
      }
    });
    return runner;
  }

  /** Every database's applied migrations compared with the files, plus its latest ledger row. */
  async status(): Promise<DatabaseMigrationStatus[]> {
    const { catalog, ledger, migrationsDir } = this.options;
    return fleetStatus(catalog, ledger, await loadMigrations(migrationsDir));
  }
}
