import type { QuotaMeasure, TierQuota, TierRecord } from '../catalog/records.js';
import { InvalidQuotaError } from '../errors/index.js';

/**
 * Quotas are data (catalog table tier_quotas): each names what it counts, so any tenant schema gets
 * usage and quotas for its own tables. The sample application's (tenant-migrations/) are rows like any
 * other, seeded for the sample tiers by control migration 0010.
 */

/** A quota's name: the key in `limits`, `usage` and a `quota_exceeded` error. */
const QUOTA_NAME = /^[a-z][a-z0-9_]{0,62}$/;
/** A table a `rows:` quota counts, in the tenant schema (public): a plain lower-case identifier. */
const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** The highest limit accepted (PostgreSQL bigint, and exact as a JavaScript number). */
export const MAX_QUOTA = Number.MAX_SAFE_INTEGER;

/** The storage quota's name and measure. */
export const STORAGE_QUOTA = 'storage_bytes';

/** The table a quota counts the rows of; undefined for the storage quota. */
export function countedTable(quota: Pick<TierQuota, 'counts'>): string | undefined {
  return quota.counts.startsWith('rows:') ? quota.counts.slice('rows:'.length) : undefined;
}

/** What a quota of this name counts when nothing else is said: the table of its name, or storage. */
export function defaultMeasure(name: string): QuotaMeasure {
  return name === STORAGE_QUOTA ? STORAGE_QUOTA : `rows:${name}`;
}

/** Checks one quota as given by an operator; the catalog's constraints say the same. */
export function checkTierQuota(quota: { name: unknown; counts: unknown; max: unknown }): TierQuota {
  const { name, counts, max } = quota;
  if (typeof name !== 'string' || !QUOTA_NAME.test(name) || name === 'requests_per_minute') {
    throw new InvalidQuotaError(
      `a quota name is lower-case letters, digits and _ starting with a letter (not requests_per_minute): ${String(name)}`,
    );
  }
  const measure =
    counts === STORAGE_QUOTA ||
    (typeof counts === 'string' && counts.startsWith('rows:') && TABLE_NAME.test(counts.slice(5)))
      ? (counts as QuotaMeasure)
      : undefined;
  if (!measure) {
    throw new InvalidQuotaError(
      `quota ${name} must count rows:<table> or storage_bytes, not ${String(counts)}`,
    );
  }
  if ((name === STORAGE_QUOTA) !== (measure === STORAGE_QUOTA)) {
    throw new InvalidQuotaError(
      'the storage quota is named storage_bytes and counts storage_bytes; no other quota may',
    );
  }
  if (max !== null && (!Number.isSafeInteger(max) || (max as number) < 0)) {
    throw new InvalidQuotaError(
      `quota ${name}: the limit is an integer from 0 to ${MAX_QUOTA}, or null for unlimited`,
    );
  }
  return { name, counts: measure, max: max as number | null };
}

/**
 * Parses `name=limit` or `name=<counts>:limit` as `tenantctl tiers quotas --set` takes it: `notes=100`
 * counts rows of notes, `open_notes=rows:notes:100` says what it counts, `unlimited` for no limit.
 */
export function parseQuotaSetting(text: string): TierQuota {
  const equals = text.indexOf('=');
  if (equals < 1) {
    throw new InvalidQuotaError(`--set takes name=limit or name=rows:<table>:limit, not ${text}`);
  }
  const name = text.slice(0, equals);
  const value = text.slice(equals + 1);
  const colon = value.lastIndexOf(':');
  const counts = colon < 0 ? defaultMeasure(name) : value.slice(0, colon);
  const limit = colon < 0 ? value : value.slice(colon + 1);
  const max = limit === 'unlimited' ? null : /^\d+$/.test(limit) ? Number(limit) : Number.NaN;
  return checkTierQuota({ name, counts, max });
}

/**
 * A tier as `tenantctl tiers` and the admin API present it: its quotas as rows and as the limits a tenant
 * of it gets, and its default feature flags.
 */
export function tierView(tier: TierRecord) {
  return {
    id: tier.id,
    placement: tier.placement,
    pool_size: tier.poolSize,
    requests_per_minute: tier.requestsPerMinute,
    quotas: tier.quotas.map((quota) => ({ name: quota.name, counts: quota.counts, max: quota.max })),
    features: tier.features,
  };
}

/** A quota in one phrase: `notes: rows of notes, at most 100` or `storage_bytes: unlimited`. */
export function describeQuota(quota: TierQuota): string {
  const table = countedTable(quota);
  const what = table === undefined ? 'bytes of rows' : `rows of ${table}`;
  return `${quota.name}: ${what}, ${quota.max === null ? 'unlimited' : `at most ${quota.max}`}`;
}
