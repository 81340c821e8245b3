import { InvalidFieldError, NotFoundError } from '../errors/index.js';
import { SLUG_PATTERN } from '../ids.js';
import type { Actor, Catalog } from './catalog.js';
import type { FeatureFlags, TenantRecord, TierRecord } from './records.js';

/**
 * Feature flags: a tier's defaults (`tiers.features`) and a tenant's own overrides
 * (`tenants.feature_overrides`), both objects from flag name to on or off (control migration 0017). A
 * tenant's effective flags are its tier's overlaid by its own; the catalog computes them with each route,
 * so a request reads them from its tenant's cached route and a change reaches every instance as any
 * catalog change does.
 */

/** A change of flags by name: true or false sets the flag, null removes it. */
export type FeatureFlagChange = Readonly<Record<string, boolean | null>>;

const NO_FLAGS: FeatureFlags = Object.freeze({});

/** Checks a flag name: a slug, as tenant ids are (400 `invalid_field` / exit 2 otherwise). */
export function checkFlagName(name: string): string {
  if (!SLUG_PATTERN.test(name)) {
    throw new InvalidFieldError(
      `invalid feature flag name ${JSON.stringify(name.slice(0, 60))}: use 3-40 characters a-z, 0-9 and '-', starting with a letter and not ending with '-'`,
    );
  }
  return name;
}

/** Checks `{name: true|false|null}` as the admin API takes it. */
export function checkFeatureChange(value: unknown): FeatureFlagChange {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidFieldError('features must be an object of flag names to true, false or null');
  }
  for (const [name, flag] of Object.entries(value)) {
    checkFlagName(name);
    if (flag !== true && flag !== false && flag !== null) {
      throw new InvalidFieldError(`feature ${name} must be true, false or null (to remove it)`);
    }
  }
  return value as FeatureFlagChange;
}

/** The change `--set name=on|off` and `--unset name` describe, as `tenantctl ... features` takes them. */
export function parseFeatureSettings(set: readonly string[], unset: readonly string[]): FeatureFlagChange {
  const change: Record<string, boolean | null> = {};
  const add = (name: string, flag: boolean | null) => {
    if (Object.hasOwn(change, checkFlagName(name))) {
      throw new InvalidFieldError(`feature ${name} is given twice`);
    }
    change[name] = flag;
  };
  for (const setting of set) {
    const match = /^([^=]*)=(on|off)$/.exec(setting);
    if (!match) throw new InvalidFieldError(`--set takes name=on or name=off, not ${setting}`);
    add(match[1]!, match[2] === 'on');
  }
  for (const name of unset) add(name, null);
  return change;
}

/** `flags` with `change` applied, names in order. */
export function applyFeatureChange(flags: FeatureFlags, change: FeatureFlagChange): FeatureFlags {
  const next: Record<string, boolean> = { ...flags };
  for (const [name, flag] of Object.entries(change)) {
    if (flag === null) delete next[name];
    else next[name] = flag;
  }
  return sortedFlags(next);
}

/** A tenant's effective flags: its tier's defaults overlaid by its own overrides. */
export function effectiveFeatures(defaults: FeatureFlags, overrides: FeatureFlags): FeatureFlags {
  return sortedFlags({ ...defaults, ...overrides });
}

function sortedFlags(flags: FeatureFlags): FeatureFlags {
  return Object.fromEntries(Object.entries(flags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Flags as the catalog's jsonb arrives (an object, or nothing before migration 0017, meaning none), in name
 * order: jsonb keeps shorter keys first.
 */
export function toFeatureFlags(value: unknown): FeatureFlags {
  return value !== null && typeof value === 'object' ? sortedFlags(value as FeatureFlags) : NO_FLAGS;
}

/**
 * Routes share one frozen object per distinct set of effective flags: a router caches a route per tenant,
 * and the sets are about as many as the tiers (plus the tenants with overrides). Frozen, because an
 * embedding application reads them from `req.tenantDb.features` and must not change another tenant's.
 */
const sharedFlags = new Map<string, FeatureFlags>();

export function routeFeatures(value: unknown): FeatureFlags {
  const flags = toFeatureFlags(value);
  const key = JSON.stringify(flags);
  let shared = sharedFlags.get(key);
  if (!shared) {
    shared = Object.freeze(flags);
    if (sharedFlags.size >= 1000) sharedFlags.clear();
    sharedFlags.set(key, shared);
  }
  return shared;
}

/** Whether two sets of flags (each in name order) are the same. */
function sameFlags(a: FeatureFlags, b: FeatureFlags): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Changes a tier's default flags, audited `tier.set_features` with the flags before and after. Every
 * instance drops its routes and reads them anew (the tiers trigger notifies every tenant), so every
 * tenant of the tier sees the change. A change that changes nothing writes and audits nothing.
 */
export async function changeTierFeatures(
  catalog: Catalog,
  tierId: string,
  change: FeatureFlagChange,
  actor: Actor,
): Promise<TierRecord> {
  await catalog.knex.transaction(async (trx) => {
    const row = await trx('tiers').where({ id: tierId }).forUpdate().first('features');
    if (!row) throw new NotFoundError(`no tier ${tierId}`, 'unknown_tier');
    const before = toFeatureFlags(row.features);
    const after = applyFeatureChange(before, change);
    if (sameFlags(before, after)) return;
    await trx('tiers')
      .where({ id: tierId })
      .update({ features: JSON.stringify(after) });
    await trx('audit_log').insert({
      actor: actor.actor,
      action: 'tier.set_features',
      tenant_id: null,
      request_id: actor.requestId ?? null,
      details: JSON.stringify({ tier: tierId, from: before, to: after }),
    });
  });
  const tier = await catalog.getTier(tierId);
  if (!tier) throw new NotFoundError(`no tier ${tierId}`, 'unknown_tier');
  return tier;
}

/**
 * Changes a tenant's own flags (null: the tier's default applies again), audited `tenant.set_features`
 * with its overrides before and after. The tenant's row change tells every instance. A change that changes
 * nothing writes and audits nothing.
 */
export async function changeTenantFeatures(
  catalog: Catalog,
  tenantId: string,
  change: FeatureFlagChange,
  actor: Actor,
): Promise<TenantRecord> {
  await catalog.knex.transaction(async (trx) => {
    const row = await trx('tenants')
      .where({ id: tenantId })
      .whereNot({ status: 'deleted' })
      .forUpdate()
      .first('feature_overrides');
    if (!row) throw new NotFoundError(`no tenant ${tenantId}`, 'tenant_not_found');
    const before = toFeatureFlags(row.feature_overrides);
    const after = applyFeatureChange(before, change);
    if (sameFlags(before, after)) return;
    await trx('tenants')
      .where({ id: tenantId })
      .update({ feature_overrides: JSON.stringify(after), updated_at: trx.fn.now() });
    await trx('audit_log').insert({
      actor: actor.actor,
      action: 'tenant.set_features',
      tenant_id: tenantId,
      request_id: actor.requestId ?? null,
      details: JSON.stringify({ from: before, to: after }),
    });
  });
  return catalog.requireTenant(tenantId);
}

/** A tenant's effective flags, read from the catalog (admin views; requests read them from their route). */
export async function tenantFeatures(catalog: Catalog, tenant: TenantRecord): Promise<FeatureFlags> {
  const tier = await catalog.getTier(tenant.tier);
  return effectiveFeatures(tier?.features ?? NO_FLAGS, tenant.featureOverrides);
}
