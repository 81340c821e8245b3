import { EventEmitter } from 'node:events';
import os from 'node:os';
import type { Catalog } from '../catalog/catalog.js';
import { MIGRATION_BUDGET_SHARE } from '../catalog/connection-budget.js';
import type { DatabaseRecord } from '../catalog/records.js';
import { InvalidInputError } from '../errors/index.js';
import type { Logger } from '../logging/logger.js';
import { traceMigrationTarget } from '../tracing/job-spans.js';
import { LedgerWriter } from './ledger-writer.js';
import type { MigrationLedger, RunStatus } from './migration-ledger.js';
import type { Migration } from './migration-source.js';
import { migrateTarget, type TargetPlan, type TargetResult } from './target-migrator.js';

export interface FleetRunOptions {
  direction: 'up' | 'down';
  /** up: last migration to apply; down: the migration to roll back to ('0': all). */
  to?: string;
  /** Databases migrated at once. Default: from the servers' budgets (see defaultConcurrency). */
  concurrency?: number;
  /** Migrate this many databases first and stop the run if any of them fails. */
  canary?: number;
  /** One database, by catalog id (`shard-1`, `tenant:acme`) or database name. */
  target?: string;
  dryRun?: boolean;
  /** Who started the run, for the ledger. */
  actor: string;
  /** Wait for another runner's lock on a database this long before failing it, in ms. Default 30000. */
  lockTimeoutMs?: number;
}

export interface FleetRunResult {
  /** Undefined for a dry run, which records nothing. */
  runId: string | undefined;
  status: RunStatus;
  concurrency: number;
  targets: TargetResult[];
  failed: TargetResult[];
}

export type FleetEvent =
  | { type: 'start'; runId: string | undefined; total: number; concurrency: number; canary: number }
  | { type: 'target-start'; databaseId: string }
  | { type: 'target-done'; result: TargetResult }
  | { type: 'canary-failed'; failed: string[] }
  | {
      type: 'finish';
      runId: string | undefined;
      direction: 'up' | 'down';
      dryRun: boolean;
      status: RunStatus;
      failed: number;
    };

/** Migrates one database of a run: here in this process, or as a job on a `tenantctl worker`. */
export type TargetExecutor = (
  runId: string | undefined,
  database: DatabaseRecord,
  plan: TargetPlan,
  canary: boolean,
) => Promise<TargetResult>;

export interface FleetRunnerDeps {
  catalog: Catalog;
  ledger: MigrationLedger;
  migrations: Migration[];
  logger: Logger;
  /** Default: migrate in this process. */
  executor?: TargetExecutor;
}

/** Per-server cap on concurrent migrations, from its connection budget. */
export function serverMigrationCap(maxConnections: number): number {
  return Math.max(1, Math.floor(maxConnections * MIGRATION_BUDGET_SHARE));
}

/**
 * Applies tenant migrations to every shard and dedicated database (or one of them): concurrently within
 * each server's budget, canaries first, every outcome in the ledger. A database that fails is recorded and
 * the run goes on; running again touches only what is not done.
 */
export class FleetRunner extends EventEmitter<{ event: [FleetEvent] }> {
  constructor(readonly deps: FleetRunnerDeps) {
    super();
  }

  async targets(target?: string): Promise<DatabaseRecord[]> {
    const ready = (await this.deps.catalog.listDatabases()).filter((database) => database.status === 'ready');
    if (target === undefined) return ready;
    const match = ready.filter((database) => database.id === target || database.databaseName === target);
    if (match.length === 0)
      throw new InvalidInputError(`no ready database ${JSON.stringify(target)}`, 'unknown_target');
    return match;
  }

  /** Sum of the servers' caps, bounded by what this machine can drive usefully. */
  async defaultConcurrency(databases: DatabaseRecord[]): Promise<number> {
    const servers = await this.deps.catalog.listServers();
    const used = new Set(databases.map((database) => database.serverId));
    const capacity = servers
      .filter((server) => used.has(server.id))
      .reduce((sum, server) => sum + serverMigrationCap(server.maxConnections), 0);
    return Math.max(1, Math.min(capacity, 4 * os.availableParallelism()));
  }

  async run(options: FleetRunOptions): Promise<FleetRunResult> {
    const { catalog, ledger, migrations } = this.deps;
    if (
      options.concurrency !== undefined &&
      !(Number.isInteger(options.concurrency) && options.concurrency > 0)
    ) {
      throw new InvalidInputError('--concurrency must be a positive integer');
    }
    if (options.canary !== undefined && !(Number.isInteger(options.canary) && options.canary >= 0)) {
      throw new InvalidInputError('--canary must be a non-negative integer');
    }
    if (options.to !== undefined && options.to !== '0' && !migrations.some((m) => m.name === options.to)) {
      throw new InvalidInputError(`no migration named ${options.to}`, 'unknown_migration');
    }
    const databases = await this.targets(options.target);
    const concurrency = options.concurrency ?? (await this.defaultConcurrency(databases));
    const canaryCount = Math.min(options.canary ?? 0, databases.length);
    const caps = new Map(
      (await catalog.listServers()).map((server) => [server.id, serverMigrationCap(server.maxConnections)]),
    );
    const plan: TargetPlan = {
      direction: options.direction,
      to: options.to,
      dryRun: options.dryRun ?? false,
      lockTimeoutMs: options.lockTimeoutMs ?? 30000,
    };
    const runId = plan.dryRun
      ? undefined
      : await ledger.createRun({
          startedBy: options.actor,
          direction: options.direction,
          targetMigration: options.to,
          migrations: migrations.map((migration) => migration.name),
          options: { concurrency, canary: canaryCount, target: options.target ?? null },
          targets: databases.map((database, index) => ({
            databaseId: database.id,
            serverId: database.serverId,
            databaseName: database.databaseName,
            canary: index < canaryCount,
          })),
        });
    this.emit('event', { type: 'start', runId, total: databases.length, concurrency, canary: canaryCount });

    const results: TargetResult[] = [];
    const writer = runId ? new LedgerWriter(ledger, runId, this.deps.logger) : undefined;
    const work = (wave: DatabaseRecord[], canary: boolean) =>
      this.#schedule(wave, concurrency, caps, async (database) => {
        this.emit('event', { type: 'target-start', databaseId: database.id });
        const result = await traceMigrationTarget(database, () =>
          this.deps.executor
            ? this.deps.executor(runId, database, plan, canary)
            : migrateTarget(this.deps, runId, database, plan, canary, writer),
        );
        results.push(result);
        this.emit('event', { type: 'target-done', result });
      });

    let status: RunStatus;
    await work(databases.slice(0, canaryCount), true);
    // The canaries' outcomes are in the ledger before the run decides whether to go on.
    await writer?.flush();
    const canaryFailures = results.filter((result) => result.status === 'failed');
    if (canaryFailures.length > 0) {
      status = 'canary_failed';
      this.emit('event', {
        type: 'canary-failed',
        failed: canaryFailures.map((result) => result.databaseId),
      });
      if (runId) await ledger.skipPending(runId, 'not run: a canary failed');
    } else {
      await work(databases.slice(canaryCount), false);
      status = results.some((result) => result.status === 'failed') ? 'failed' : 'succeeded';
    }
    await writer?.flush();
    if (runId) await ledger.finishRun(runId, status);
    const ordered = results.sort((a, b) => a.databaseId.localeCompare(b.databaseId));
    const failed = ordered.filter((result) => result.status === 'failed');
    this.emit('event', {
      type: 'finish',
      runId,
      direction: options.direction,
      dryRun: plan.dryRun,
      status,
      failed: failed.length,
    });
    return {
      runId,
      status,
      concurrency,
      targets: ordered,
      failed,
    };
  }

  /** Runs `task` for every database, at most `concurrency` at once and at most each server's cap on it. */
  async #schedule(
    databases: DatabaseRecord[],
    concurrency: number,
    caps: Map<string, number>,
    task: (database: DatabaseRecord) => Promise<void>,
  ): Promise<void> {
    const queue = [...databases];
    const running = new Map<string, number>();
    let active = 0;
    await new Promise<void>((resolve, reject) => {
      const pump = () => {
        if (queue.length === 0 && active === 0) return resolve();
        while (active < concurrency) {
          const index = queue.findIndex(
            (database) => (running.get(database.serverId) ?? 0) < (caps.get(database.serverId) ?? 1),
          );
          if (index < 0) return;
          const [database] = queue.splice(index, 1) as [DatabaseRecord];
          active += 1;
          running.set(database.serverId, (running.get(database.serverId) ?? 0) + 1);
          task(database)
            .then(() => {
              active -= 1;
              running.set(database.serverId, (running.get(database.serverId) ?? 1) - 1);
              pump();
            })
            .catch(reject);
        }
      };
      pump();
    });
  }
}
