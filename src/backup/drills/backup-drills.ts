import type { Knex } from 'knex';

/** What a drill checked: counts and digests, or counts alone for a backup recorded without digests. */
export type DrillMethod = 'counts_and_digests' | 'counts';

/** One table as the drill found it against the backup's manifest (its catalog row). */
export interface DrillTable {
  rows_expected: number | null;
  rows_found: number | null;
  digest_expected?: string | null;
  digest_found?: string | null;
  ok: boolean;
}

/** `backup_drills.details`: per table, timings, the scratch database and the failure, if any. */
export interface DrillDetails {
  method?: DrillMethod;
  tables?: Record<string, DrillTable>;
  /** Milliseconds per phase: migrate (the scratch database to the backup's schema), load, check, drop, total. */
  timings_ms?: Record<string, number>;
  scratch_database?: string;
  /** Whether the scratch database was found gone after the drill. */
  scratch_dropped?: boolean;
  error?: string;
  error_code?: string;
}

export interface DrillRecord {
  id: string;
  backupId: string;
  tenantId: string;
  /** null while it runs (or if its process died before recording a result). */
  passed: boolean | null;
  startedAt: Date;
  finishedAt: Date | null;
  details: DrillDetails;
}

function toDrill(row: Record<string, unknown>): DrillRecord {
  return {
    id: String(row.id),
    backupId: row.backup_id as string,
    tenantId: row.tenant_id as string,
    passed: (row.passed as boolean | null) ?? null,
    startedAt: row.started_at as Date,
    finishedAt: (row.finished_at as Date | null) ?? null,
    details: (row.details as DrillDetails | null) ?? {},
  };
}

/** The API's and the CLI's view of a drill. */
export function drillView(drill: DrillRecord) {
  return {
    id: drill.id,
    backup_id: drill.backupId,
    tenant_id: drill.tenantId,
    passed: drill.passed,
    started_at: drill.startedAt,
    finished_at: drill.finishedAt,
    duration_ms: drill.details.timings_ms?.total ?? null,
    method: drill.details.method ?? null,
    error: drill.details.error ?? null,
    details: drill.details,
  };
}

export type DrillView = ReturnType<typeof drillView>;

/** The `backup_drills` table: one row per restore drill, written when it starts and when it ends. */
export class BackupDrills {
  constructor(private readonly knex: Knex) {}

  async start(tenantId: string, backupId: string): Promise<DrillRecord> {
    const [row] = await this.knex('backup_drills')
      .insert({ tenant_id: tenantId, backup_id: backupId })
      .returning('*');
    return toDrill(row);
  }

  async finish(id: string, passed: boolean, details: DrillDetails): Promise<DrillRecord> {
    const [row] = await this.knex('backup_drills')
      .where({ id })
      .update({ passed, finished_at: this.knex.fn.now(), details: JSON.stringify(details) })
      .returning('*');
    return toDrill(row);
  }

  /** The last finished drill of each of these backups. */
  async lastOf(backupIds: string[]): Promise<Map<string, DrillRecord>> {
    if (backupIds.length === 0) return new Map();
    const rows = await this.knex('backup_drills')
      .distinctOn('backup_id')
      .whereIn('backup_id', backupIds)
      .whereNotNull('finished_at')
      .orderBy([{ column: 'backup_id' }, { column: 'id', order: 'desc' }]);
    return new Map(rows.map((row: Record<string, unknown>) => [row.backup_id as string, toDrill(row)]));
  }
}
