import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'canary_failed' | 'interrupted';
export type TargetStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

export interface RunRecord {
  id: string;
  startedBy: string;
  startedAt: Date;
  finishedAt: Date | null;
  direction: 'up' | 'down';
  targetMigration: string | null;
  migrations: string[];
  options: Record<string, unknown>;
  status: RunStatus;
}

export interface RunTargetRecord {
  runId: string;
  databaseId: string;
  serverId: string;
  databaseName: string;
  canary: boolean;
  status: TargetStatus;
  applied: string[];
  error: string | null;
  attempts: number;
  durationMs: number | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** How one database of a run ended. */
export interface TargetOutcome {
  databaseId: string;
  status: 'succeeded' | 'failed' | 'skipped';
  applied: string[];
  error?: string | undefined;
  durationMs: number;
}

function toRun(row: Record<string, unknown>): RunRecord {
  return {
    id: row.id as string,
    startedBy: row.started_by as string,
    startedAt: row.started_at as Date,
    finishedAt: (row.finished_at as Date | null) ?? null,
    direction: row.direction as 'up' | 'down',
    targetMigration: (row.target_migration as string | null) ?? null,
    migrations: row.migrations as string[],
    options: row.options as Record<string, unknown>,
    status: row.status as RunStatus,
  };
}

function toTarget(row: Record<string, unknown>): RunTargetRecord {
  return {
    runId: row.run_id as string,
    databaseId: row.database_id as string,
    serverId: row.server_id as string,
    databaseName: row.database_name as string,
    canary: row.canary as boolean,
    status: row.status as TargetStatus,
    applied: row.applied as string[],
    error: (row.error as string | null) ?? null,
    attempts: row.attempts as number,
    durationMs: (row.duration_ms as number | null) ?? null,
    startedAt: (row.started_at as Date | null) ?? null,
    finishedAt: (row.finished_at as Date | null) ?? null,
  };
}

/** The fleet migration ledger in the control database: runs, and each database's outcome in each run. */
export class MigrationLedger {
  constructor(private readonly knex: Knex) {}

  async createRun(run: {
    startedBy: string;
    direction: 'up' | 'down';
    targetMigration: string | undefined;
    migrations: string[];
    options: Record<string, unknown>;
    targets: Array<{ databaseId: string; serverId: string; databaseName: string; canary: boolean }>;
  }): Promise<string> {
    const id = randomUUID();
    await this.knex.transaction(async (trx) => {
      await trx('migration_runs').insert({
        id,
        started_by: run.startedBy,
        direction: run.direction,
        target_migration: run.targetMigration ?? null,
        migrations: run.migrations,
        options: JSON.stringify(run.options),
        status: 'running',
      });
      if (run.targets.length > 0) {
        await trx('migration_run_targets').insert(
          run.targets.map((target) => ({
            run_id: id,
            database_id: target.databaseId,
            server_id: target.serverId,
            database_name: target.databaseName,
            canary: target.canary,
            status: 'pending',
          })),
        );
      }
    });
    return id;
  }

  /** Marks databases of a run as running (one statement for the lot). */
  async markStarted(runId: string, databaseIds: string[]): Promise<void> {
    if (databaseIds.length === 0) return;
    await this.knex('migration_run_targets')
      .where({ run_id: runId })
      .whereIn('database_id', databaseIds)
      .update({ status: 'running', started_at: this.knex.fn.now(), error: null });
  }

  /** Records finished databases of a run, one statement for the lot; each counts as one more attempt. */
  async recordOutcomes(runId: string, outcomes: TargetOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    await this.knex.raw(
      `UPDATE migration_run_targets AS t
          SET status = v.status, applied = v.applied, error = v.error, duration_ms = v.duration_ms,
              attempts = t.attempts + 1, started_at = coalesce(t.started_at, now()), finished_at = now()
         FROM jsonb_to_recordset(?::jsonb)
           AS v(database_id text, status text, applied text[], error text, duration_ms integer)
        WHERE t.run_id = ? AND t.database_id = v.database_id`,
      [
        JSON.stringify(
          outcomes.map((outcome) => ({
            database_id: outcome.databaseId,
            status: outcome.status,
            applied: outcome.applied,
            error: outcome.error ?? null,
            duration_ms: Math.round(outcome.durationMs),
          })),
        ),
        runId,
      ],
    );
  }

  /** Marks targets that never started (after a canary failure) as skipped, with the reason. */
  async skipPending(runId: string, reason: string): Promise<void> {
    await this.knex('migration_run_targets')
      .where({ run_id: runId, status: 'pending' })
      .update({ status: 'skipped', error: reason, finished_at: this.knex.fn.now() });
  }

  async finishRun(runId: string, status: RunStatus): Promise<void> {
    await this.knex('migration_runs')
      .where({ id: runId })
      .update({ status, finished_at: this.knex.fn.now() });
  }

  async getRun(runId: string): Promise<{ run: RunRecord; targets: RunTargetRecord[] } | undefined> {
    const row = await this.knex('migration_runs').where({ id: runId }).first();
    if (!row) return undefined;
    const targets = await this.knex('migration_run_targets').where({ run_id: runId }).orderBy('database_id');
    return { run: toRun(row), targets: targets.map(toTarget) };
  }

  async listRuns(limit: number): Promise<RunRecord[]> {
    return (await this.knex('migration_runs').orderBy('started_at', 'desc').limit(limit)).map(toRun);
  }

  /** Each database's most recent ledger row, keyed by database id. */
  async latestByDatabase(): Promise<Map<string, RunTargetRecord>> {
    const rows = await this.knex
      .select('t.*')
      .from('migration_run_targets as t')
      .join('migration_runs as r', 'r.id', 't.run_id')
      .distinctOn('t.database_id')
      .orderBy([{ column: 't.database_id' }, { column: 'r.started_at', order: 'desc' }]);
    return new Map(rows.map((row: Record<string, unknown>) => [row.database_id as string, toTarget(row)]));
  }
}
