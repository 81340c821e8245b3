import os from 'node:os';
import type { Catalog } from '../catalog/catalog.js';
import type { DatabaseRecord } from '../catalog/records.js';
import { MigrationFailedError, rootMessage } from '../errors/index.js';
import { TENANT_LEDGER } from '../provisioning/tenant-database.js';
import { databaseTenant, tenantBoundConfig } from '../tenant-session/tenant-binding.js';
import { migrateDatabase } from './database-migrator.js';
import { immediateLedgerSink, type LedgerSink } from './ledger-writer.js';
import type { MigrationLedger } from './migration-ledger.js';
import type { Migration } from './migration-source.js';

/** What one database is asked to do in a fleet run. */
export interface TargetPlan {
  direction: 'up' | 'down';
  to: string | undefined;
  dryRun: boolean;
  lockTimeoutMs: number;
}

export interface TargetResult {
  databaseId: string;
  serverId: string;
  databaseName: string;
  canary: boolean;
  status: 'succeeded' | 'failed' | 'skipped';
  /** Migrations applied (or rolled back) on this database in this run. */
  applied: string[];
  /** What was pending; for a dry run, what would have run. */
  planned: string[];
  error: string | undefined;
  durationMs: number;
  /** host:pid of the process that migrated it. */
  worker: string;
}

const WORKER = `${os.hostname()}:${process.pid}`;

export interface TargetMigratorDeps {
  catalog: Catalog;
  ledger: MigrationLedger;
  migrations: Migration[];
}

/**
 * Migrates one database and records the outcome in the run's ledger row. Never throws for a failure of the
 * database itself (bad DDL, unreachable server, lock timeout): that is the row's `failed` status, so one
 * database cannot stop the others.
 */
export async function migrateTarget(
  deps: TargetMigratorDeps,
  runId: string | undefined,
  database: DatabaseRecord,
  plan: TargetPlan,
  canary: boolean,
  /** Where progress goes; default: straight to the ledger (nothing for a dry run without a run id). */
  sink: LedgerSink | undefined = runId ? immediateLedgerSink(deps.ledger, runId) : undefined,
): Promise<TargetResult> {
  const started = performance.now();
  const base = {
    databaseId: database.id,
    serverId: database.serverId,
    databaseName: database.databaseName,
    worker: WORKER,
    canary,
  };
  await sink?.started(database.id);
  let result: TargetResult;
  try {
    const connection = await deps.catalog.serverAdminConfig(database.serverId, database.databaseName);
    // A dedicated database's migrations act as its tenant: row-level security is forced for the tables'
    // owner, the admin role, too (unless it is a superuser), so rows are the tenant's to touch.
    const tenant = databaseTenant(database);
    const outcome = await migrateDatabase({
      ...(tenant === undefined ? connection : tenantBoundConfig(connection, tenant)),
      migrations: deps.migrations,
      ledger: TENANT_LEDGER,
      direction: plan.direction,
      ...(plan.to === undefined ? {} : { to: plan.to }),
      dryRun: plan.dryRun,
      lockTimeoutMs: plan.lockTimeoutMs,
    });
    result = {
      ...base,
      status: outcome.applied.length > 0 ? 'succeeded' : 'skipped',
      applied: outcome.applied,
      planned: outcome.planned,
      error: undefined,
      durationMs: performance.now() - started,
    };
  } catch (error) {
    result = {
      ...base,
      status: 'failed',
      applied: error instanceof MigrationFailedError ? error.applied : [],
      planned: [],
      error: error instanceof MigrationFailedError ? error.message : rootMessage(error),
      durationMs: performance.now() - started,
    };
  }
  await sink?.finished({
    databaseId: database.id,
    status: result.status,
    applied: result.applied,
    durationMs: result.durationMs,
    error: result.error,
  });
  return result;
}
