import type { Knex } from 'knex';
import type { TenantStorage } from './tenant-storage.js';
import type { UsageRange } from './usage-range.js';

/** One period of a tenant's usage, as the API, the CSV export and `tenantctl usage` give it. */
export interface UsagePeriod {
  period_start: string;
  requests: number;
  /** errors_4xx + errors_5xx. */
  errors: number;
  errors_4xx: number;
  errors_5xx: number;
  db_time_ms: number;
  bytes_in: number;
  bytes_out: number;
  /** The period's largest storage sample; null when none was taken in it. */
  storage_bytes: number | null;
  rows: number | null;
}

/** Sets the hour's storage and rows of each measured tenant (a later sample of the hour replaces it). */
export async function recordStorageSamples(
  knex: Knex,
  period: Date,
  measured: readonly TenantStorage[],
): Promise<void> {
  if (measured.length === 0) return;
  await knex.raw(
    `INSERT INTO tenant_usage (tenant_id, period_start, storage_bytes, rows)
     SELECT m.tenant_id, ?::timestamptz, m.bytes, m.rows
       FROM unnest(?::text[], ?::bigint[], ?::bigint[]) AS m (tenant_id, bytes, rows)
      ORDER BY 1
     ON CONFLICT (tenant_id, period_start) DO UPDATE
       SET storage_bytes = excluded.storage_bytes, rows = excluded.rows`,
    [
      period,
      measured.map((tenant) => tenant.tenantId),
      measured.map((tenant) => String(tenant.bytes)),
      measured.map((tenant) => String(tenant.rows)),
    ],
  );
}

/** Deletes usage (and sampler runs) of hours older than `retentionDays`; answers the usage rows deleted. */
export async function deleteExpiredUsage(knex: Knex, retentionDays: number): Promise<number> {
  const cutoff = knex.raw('now() - make_interval(days => ?)', [retentionDays]);
  const expired = await knex('tenant_usage').where('period_start', '<', cutoff).del();
  await knex('usage_sample_runs').where('period_start', '<', cutoff).del();
  return expired;
}

/**
 * The periods of a range, summed per tenant: bound to the granularity, from and to, then the parameters of
 * `tenants`, which picks the tenants.
 */
function periodsQuery(tenants: string): string {
  return `SELECT tenant_id,
         date_trunc(?, period_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS period,
         sum(requests)::bigint AS requests,
         sum(errors_4xx)::bigint AS errors_4xx,
         sum(errors_5xx)::bigint AS errors_5xx,
         round(sum(db_time_ms))::bigint AS db_time_ms,
         sum(bytes_in)::bigint AS bytes_in,
         sum(bytes_out)::bigint AS bytes_out,
         max(storage_bytes) AS storage_bytes,
         max(rows) AS rows
    FROM tenant_usage
   WHERE period_start >= ? AND period_start < ? AND ${tenants}
   GROUP BY 1, 2
   ORDER BY 1, 2`;
}

interface PeriodRow {
  tenant_id: string;
  period: Date;
  requests: string;
  errors_4xx: string;
  errors_5xx: string;
  db_time_ms: string;
  bytes_in: string;
  bytes_out: string;
  storage_bytes: string | null;
  rows: string | null;
}

function toPeriod(row: PeriodRow): UsagePeriod {
  // bigint arrives as text; usage stays far below 2^53.
  const errors4xx = Number(row.errors_4xx);
  const errors5xx = Number(row.errors_5xx);
  return {
    period_start: row.period.toISOString(),
    requests: Number(row.requests),
    errors: errors4xx + errors5xx,
    errors_4xx: errors4xx,
    errors_5xx: errors5xx,
    db_time_ms: Number(row.db_time_ms),
    bytes_in: Number(row.bytes_in),
    bytes_out: Number(row.bytes_out),
    storage_bytes: row.storage_bytes === null ? null : Number(row.storage_bytes),
    rows: row.rows === null ? null : Number(row.rows),
  };
}

/** A tenant's usage per period of the range, oldest first; periods with nothing recorded are left out. */
export async function tenantUsagePeriods(
  knex: Knex,
  tenantId: string,
  range: UsageRange,
): Promise<UsagePeriod[]> {
  const { rows } = await knex.raw<{ rows: PeriodRow[] }>(periodsQuery('tenant_id = ?'), [
    range.granularity,
    range.from,
    range.to,
    tenantId,
  ]);
  return rows.map(toPeriod);
}

/** Tenants whose periods one batch of the export reads. */
const EXPORT_BATCH_TENANTS = 200;

/**
 * Every tenant's usage per period of the range, by tenant id then period, read in batches of tenants
 * (keyset on the tenant id) so that an export of any size holds one batch in memory and no connection
 * between batches.
 */
export async function* allUsagePeriods(
  knex: Knex,
  range: UsageRange,
  batchTenants = EXPORT_BATCH_TENANTS,
): AsyncGenerator<UsagePeriod & { tenant_id: string }> {
  let after = '';
  for (;;) {
    const { rows } = await knex.raw<{ rows: PeriodRow[] }>(
      periodsQuery(
        `tenant_id IN (SELECT DISTINCT tenant_id FROM tenant_usage
                        WHERE period_start >= ? AND period_start < ? AND tenant_id > ?
                        ORDER BY tenant_id LIMIT ?)`,
      ),
      [range.granularity, range.from, range.to, range.from, range.to, after, batchTenants],
    );
    if (rows.length === 0) return;
    for (const row of rows) yield { tenant_id: row.tenant_id, ...toPeriod(row) };
    after = rows.at(-1)!.tenant_id;
  }
}

/** The export's columns, in order. */
export const USAGE_CSV_COLUMNS = [
  'tenant_id',
  'period_start',
  'requests',
  'errors',
  'errors_4xx',
  'errors_5xx',
  'db_time_ms',
  'bytes_in',
  'bytes_out',
  'storage_bytes',
  'rows',
] as const;

/**
 * The export as CSV lines (RFC 4180, CRLF), the header first. Tenant ids are slugs and every other field a
 * number or a timestamp, so no field needs quoting; an unsampled storage is an empty field.
 */
export async function* usageCsvLines(knex: Knex, range: UsageRange): AsyncGenerator<string> {
  const periods = allUsagePeriods(knex, range);
  // The first batch is read before the header is given: a catalog that does not answer fails the export
  // before anything of it is sent, rather than as a truncated file.
  const first = await periods.next();
  yield `${USAGE_CSV_COLUMNS.join(',')}\r\n`;
  if (first.done) return;
  yield csvLine(first.value);
  for await (const period of periods) yield csvLine(period);
}

function csvLine(period: UsagePeriod & { tenant_id: string }): string {
  return `${USAGE_CSV_COLUMNS.map((column) => period[column] ?? '').join(',')}\r\n`;
}
