import type { Knex } from 'knex';

/**
 * How late a scheduled tenant's backup may be before it counts as overdue: its newest complete backup is
 * older than this many times the tier's cadence (`every_seconds`).
 */
export const OVERDUE_FACTOR = 1.5;

/** A tenant of a scheduled tier whose backups have stopped. */
export interface OverdueTenant {
  tenant_id: string;
  tier: string;
  /** When its newest complete backup completed; null when it has none. */
  last_backup_at: Date | null;
  /** Seconds since then; null when it has no backup. */
  age_seconds: number | null;
  every_seconds: number;
}

/** A tenant whose last restore drill failed. */
export interface FailedDrill {
  tenant_id: string;
  backup_id: string;
  drill_id: string;
  finished_at: Date;
  error: string | null;
}

/** What /metrics shows of backups, read in one catalog query. */
export interface BackupHealthSummary {
  /** Seconds since the newest complete backup of each of the tenants asked for that has one. */
  ages: Map<string, number>;
  /** The oldest such age among every other live tenant (null: none has a backup). */
  otherMaxAge: number | null;
  overdue: number;
  drillsFailed: number;
  /** Bytes of complete backups per tier (of the tenant's tier, deleted tenants' backups included). */
  storedBytes: Map<string, number>;
}

/** Each live tenant with its tier, creation and newest complete backup (one index probe per tenant). */
const NEWEST = `
  SELECT t.id, t.tier, t.status, t.created_at, n.at
    FROM tenants t
    LEFT JOIN LATERAL (
      SELECT b.completed_at AS at FROM backups b
       WHERE b.tenant_id = t.id AND b.state = 'complete'
       ORDER BY b.completed_at DESC LIMIT 1) n ON true
   WHERE t.status IN ('active', 'moving', 'suspended')`;

/**
 * Active tenants of a scheduled tier whose newest complete backup is older than OVERDUE_FACTOR × the
 * cadence, or who have none while the schedule (or the tenant, if newer) is older than that.
 */
const OVERDUE = `
  SELECT n.id AS tenant_id, n.tier, n.at AS last_backup_at,
         extract(epoch FROM now() - n.at)::float8 AS age_seconds, s.every_seconds
    FROM newest n JOIN backup_schedules s ON s.tier = n.tier
   WHERE n.status = 'active'
     AND coalesce(n.at, greatest(s.updated_at, n.created_at))
         < now() - make_interval(secs => ${OVERDUE_FACTOR} * s.every_seconds)`;

/**
 * Each live tenant's last finished drill of a backup it still has, when it failed: a backup pruned since
 * (or while it was drilled) says nothing about the ones kept.
 */
const FAILED_DRILLS = `
  SELECT d.tenant_id, d.backup_id, d.id::text AS drill_id, d.finished_at, d.details->>'error' AS error
    FROM tenants t
    CROSS JOIN LATERAL (
      SELECT d.* FROM backup_drills d JOIN backups b ON b.id = d.backup_id AND b.state = 'complete'
       WHERE d.tenant_id = t.id AND d.finished_at IS NOT NULL
       ORDER BY d.id DESC LIMIT 1) d
   WHERE t.status IN ('active', 'moving', 'suspended') AND d.passed = false`;

/** Bytes of complete backups per tier: a sum over every backup, the one figure whose cost grows with them. */
const STORED = `
  SELECT 'stored', t.tier, sum(b.size_bytes)::float8
    FROM backups b JOIN tenants t ON t.id = b.tenant_id
   WHERE b.state = 'complete' GROUP BY t.tier`;

export interface BackupHealthOptions {
  /** The bytes per tier are summed again at most this often, in ms (they change slowly). Default 60000. */
  storedBytesMaxAgeMs?: number;
}

/** The catalog's view of backup health: for /metrics, and for `tenantctl backups status`. */
export class BackupHealth {
  readonly #storedBytesMaxAgeMs: number;
  #stored: { at: number; bytes: Map<string, number> } | undefined;

  constructor(
    private readonly knex: Knex,
    options: BackupHealthOptions = {},
  ) {
    this.#storedBytesMaxAgeMs = options.storedBytesMaxAgeMs ?? 60_000;
  }

  /**
   * Everything /metrics shows, in one statement; `labelled` tenants get an age of their own. Each tenant's
   * newest complete backup is one index probe (backups_newest_complete_idx); the bytes per tier, a sum over
   * every backup, are summed at most once per `storedBytesMaxAgeMs`. Measured on 10,000 tenants with
   * 300,000 backups (the test machine, busy): about 0.1 s without the bytes, 0.2 s with them.
   */
  async summary(labelled: string[]): Promise<BackupHealthSummary> {
    const now = performance.now();
    const sumBytes = !this.#stored || now - this.#stored.at >= this.#storedBytesMaxAgeMs;
    // Parallel workers cost more to start than the sums they would share: read by one process.
    type Row = { kind: string; label: string | null; value: number | null };
    const rows = await this.knex.transaction(async (trx): Promise<Row[]> => {
      await trx.raw('SET LOCAL max_parallel_workers_per_gather = 0');
      const result = await trx.raw(
        `WITH newest AS (${NEWEST}),
       labelled AS (SELECT jsonb_array_elements_text(CAST(? AS jsonb)) AS id)
       SELECT 'age' AS kind, id AS label, extract(epoch FROM now() - at)::float8 AS value
         FROM newest WHERE at IS NOT NULL AND id IN (SELECT id FROM labelled)
       UNION ALL
       SELECT 'other_age', NULL, max(extract(epoch FROM now() - at))::float8
         FROM newest WHERE id NOT IN (SELECT id FROM labelled)
       UNION ALL
       SELECT 'overdue', NULL, count(*)::float8 FROM (${OVERDUE}) o
       UNION ALL
       SELECT 'drills_failed', NULL, count(*)::float8 FROM (${FAILED_DRILLS}) f
       ${sumBytes ? `UNION ALL ${STORED}` : ''}`,
        [JSON.stringify(labelled)],
      );
      return result.rows as Row[];
    });
    const summary: BackupHealthSummary = {
      ages: new Map(),
      otherMaxAge: null,
      overdue: 0,
      drillsFailed: 0,
      storedBytes: sumBytes ? new Map() : this.#stored!.bytes,
    };
    for (const row of rows) {
      if (row.kind === 'age' && row.value !== null) summary.ages.set(row.label!, row.value);
      else if (row.kind === 'other_age') summary.otherMaxAge = row.value;
      else if (row.kind === 'overdue') summary.overdue = row.value ?? 0;
      else if (row.kind === 'drills_failed') summary.drillsFailed = row.value ?? 0;
      else if (row.kind === 'stored') summary.storedBytes.set(row.label!, row.value ?? 0);
    }
    if (sumBytes) this.#stored = { at: now, bytes: summary.storedBytes };
    return summary;
  }

  async overdueTenants(): Promise<OverdueTenant[]> {
    const { rows } = await this.knex.raw(
      `WITH newest AS (${NEWEST}) SELECT * FROM (${OVERDUE}) o ORDER BY o.last_backup_at NULLS FIRST, o.tenant_id`,
    );
    return rows as OverdueTenant[];
  }

  async failedDrills(): Promise<FailedDrill[]> {
    const { rows } = await this.knex.raw(`${FAILED_DRILLS} ORDER BY d.tenant_id`);
    return rows as FailedDrill[];
  }
}
