import type { Catalog } from '../catalog/catalog.js';
import { placedTenants } from '../catalog/tenant-placements.js';
import { recordTenantSizes } from '../catalog/tenant-sizes.js';
import type { Config } from '../config.js';
import type { JobHandler, JobQueue } from '../jobs/job-queue.js';
import type { Logger } from '../logging/logger.js';
import { measureTenantStorage } from './tenant-storage.js';
import { HOUR_MS } from './usage-meter.js';
import { deleteExpiredUsage, recordStorageSamples } from './usage-store.js';

/** The usage sampler's tick: it samples each hour once, whichever process's tick comes first. */
export const USAGE_SAMPLE_QUEUE = 'usage-sample';
/** How often the tick looks whether the hour has been sampled yet. */
export const USAGE_SAMPLE_TICK_MS = 60_000;
const TICK_ID = 'usage-sample-tick';

export interface UsageSampleData {
  /** Sample the hour even if it was sampled already (the hour's storage is replaced). */
  force?: boolean;
}

export interface UsageSampleResult {
  /** The hour sampled; null when another tick had sampled it already. */
  period_start: string | null;
  tenants: number;
  /** Databases that could not be measured (their server down, say); the next hour tries again. */
  failed_databases: string[];
  /** Hours of usage deleted by the retention. */
  expired: number;
}

/**
 * Claims the hour in usage_sample_runs (the first process to insert its row samples it), then measures
 * every live tenant's storage and rows, database after database over one admin connection at a time,
 * and records them in the hour's usage and in tenant_sizes (which placement weighs shards by). Then
 * deletes usage older than the retention.
 */
export async function sampleUsage(
  deps: { catalog: Catalog; logger: Logger; retentionDays: number },
  data: UsageSampleData = {},
): Promise<UsageSampleResult> {
  const { catalog, logger } = deps;
  const knex = catalog.knex;
  const period = new Date(Math.floor(Date.now() / HOUR_MS) * HOUR_MS);
  const claimed = await knex.raw<{ rows: unknown[] }>(
    `INSERT INTO usage_sample_runs (period_start) VALUES (?)
     ON CONFLICT (period_start) DO ${data.force ? 'UPDATE SET started_at = now()' : 'NOTHING'}
     RETURNING period_start`,
    [period],
  );
  if (claimed.rows.length === 0) return { period_start: null, tenants: 0, failed_databases: [], expired: 0 };
  const [shards, dedicated] = await Promise.all([
    placedTenants(knex, { kind: 'shard' }),
    placedTenants(knex, { kind: 'dedicated' }),
  ]);
  const byDatabase = new Map<string, typeof shards>();
  for (const tenant of [...shards, ...dedicated]) {
    const placed = byDatabase.get(tenant.databaseId);
    if (placed) placed.push(tenant);
    else byDatabase.set(tenant.databaseId, [tenant]);
  }
  const failed: string[] = [];
  let tenants = 0;
  for (const [databaseId, placed] of byDatabase) {
    const first = placed[0]!;
    try {
      const measured = await measureTenantStorage(
        catalog,
        first,
        placed.map((tenant) => tenant.tenantId),
      );
      await recordStorageSamples(knex, period, measured);
      await recordTenantSizes(
        knex,
        measured.map((tenant) => ({ tenantId: tenant.tenantId, databaseId, bytes: tenant.bytes })),
      );
      tenants += measured.length;
    } catch (error) {
      failed.push(databaseId);
      logger.warn({ err: error, databaseId }, 'usage sample of a database failed; the next hour retries');
    }
  }
  const expired = await deleteExpiredUsage(knex, deps.retentionDays);
  logger.info({ period, tenants, failed, expired }, 'usage sampled');
  return { period_start: period.toISOString(), tenants, failed_databases: failed, expired };
}

/** The sampler's tick as a job: see sampleUsage. */
export function usageSampleHandlers(deps: {
  catalog: Catalog;
  logger: Logger;
  config: Pick<Config, 'usage'>;
}): Record<string, JobHandler> {
  const { catalog, logger } = deps;
  const retentionDays = deps.config.usage.retentionDays;
  const sample = (data: UsageSampleData) => sampleUsage({ catalog, logger, retentionDays }, data);
  return { [USAGE_SAMPLE_QUEUE]: sample as JobHandler };
}

/**
 * Makes the sampler run: with BullMQ one job scheduler that every worker sets, inline a timer in the
 * serving process (as the backup schedules do). Each tick samples the hour only if no tick did yet.
 */
export async function startUsageSampling(jobs: JobQueue): Promise<void> {
  await jobs.repeat(USAGE_SAMPLE_QUEUE, { id: TICK_ID, everyMs: USAGE_SAMPLE_TICK_MS, data: {} });
}
