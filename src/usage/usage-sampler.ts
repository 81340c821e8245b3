import type { Catalog } from '../catalog/catalog.js';
import { recordTenantSizes } from '../catalog/tenant-sizes.js';
import type { Config } from '../config.js';
import type { JobHandler, JobQueue } from '../jobs/job-queue.js';
import type { Logger } from '../logging/logger.js';
import { claimSampleBatch, type PlacedForSample } from './sample-batches.js';
import { measureTenantStorage } from './tenant-storage.js';
import { HOUR_MS } from './usage-meter.js';
import { deleteExpiredUsage, recordStorageSamples } from './usage-store.js';

/** The usage sampler's tick: each takes the hour's next batch of tenants, whichever process it runs in. */
export const USAGE_SAMPLE_QUEUE = 'usage-sample';
/** How often a process's tick takes a batch. */
export const USAGE_SAMPLE_TICK_MS = 60_000;
/**
 * Tenants one tick measures: 10,000 tenants take 20 ticks of one process, well inside the hour, and a tick
 * holds a process's shutdown (which waits for its running tick) for one batch only.
 */
export const USAGE_SAMPLE_BATCH = 500;
/** The tick's id: its BullMQ job scheduler's, or its inline timer's. */
export const USAGE_SAMPLE_TICK_ID = 'usage-sample-tick';

export interface UsageSampleData {
  /** Sample the hour again from its first tenant (the storage recorded for it is replaced). */
  force?: boolean;
  /** Tenants this tick measures (default USAGE_SAMPLE_BATCH). */
  batch?: number;
}

export interface UsageSampleResult {
  /** The hour sampled; null when it had been sampled already (or another tick was taking a batch). */
  period_start: string | null;
  tenants: number;
  /** Whether this tick took the hour's last tenants. */
  finished: boolean;
  /** Databases that could not be measured (their server down, say); their tenants wait for the next hour. */
  failed_databases: string[];
  /** Hours of usage deleted by the retention (by the tick that finishes an hour). */
  expired: number;
}

/**
 * Takes the hour's next batch of live tenants (see claimSampleBatch) and measures their storage and rows,
 * database after database over one admin connection at a time, recording them in the hour's usage and in
 * tenant_sizes (which placement weighs shards by). The tick that finishes the hour deletes usage older
 * than the retention.
 */
export async function sampleUsage(
  deps: { catalog: Catalog; logger: Logger; retentionDays: number },
  data: UsageSampleData = {},
): Promise<UsageSampleResult> {
  const { catalog, logger } = deps;
  const knex = catalog.knex;
  const period = new Date(Math.floor(Date.now() / HOUR_MS) * HOUR_MS);
  const batch = await claimSampleBatch(knex, period, data.batch ?? USAGE_SAMPLE_BATCH, data.force);
  if (batch.tenants.length === 0 && !batch.finished) {
    return { period_start: null, tenants: 0, finished: false, failed_databases: [], expired: 0 };
  }
  const byDatabase = new Map<string, PlacedForSample[]>();
  for (const tenant of batch.tenants) {
    const placed = byDatabase.get(tenant.databaseId);
    if (placed) placed.push(tenant);
    else byDatabase.set(tenant.databaseId, [tenant]);
  }
  const failed: string[] = [];
  let tenants = 0;
  for (const [databaseId, placed] of byDatabase) {
    try {
      const measured = await measureTenantStorage(
        catalog,
        placed[0]!,
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
  const expired = batch.finished ? await deleteExpiredUsage(knex, deps.retentionDays) : 0;
  logger.info({ period, tenants, finished: batch.finished, failed, expired }, 'usage sampled');
  return {
    period_start: period.toISOString(),
    tenants,
    finished: batch.finished,
    failed_databases: failed,
    expired,
  };
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
 * Makes the sampler run: with BullMQ one job scheduler that every worker sets, inline a timer in each
 * serving process (as the backup schedules do). Each tick takes the hour's next batch, if any is left.
 */
export async function startUsageSampling(jobs: JobQueue): Promise<void> {
  await jobs.repeat(USAGE_SAMPLE_QUEUE, {
    id: USAGE_SAMPLE_TICK_ID,
    everyMs: USAGE_SAMPLE_TICK_MS,
    data: {},
  });
}
