import { type Request, Router } from 'express';
import type { ObjectStore } from '../../backup/object-store.js';
import { deleteTenant } from '../../backup/tenant-deletion.js';
import type { TenantKeyring } from '../../backup/tenant-keyring.js';
import { changeTenantFeatures, checkFeatureChange } from '../../catalog/feature-flags.js';
import {
  InvalidFieldError,
  InvalidInputError,
  InvalidQuotaError,
  UnknownFieldError,
} from '../../errors/index.js';
import { assertSlug } from '../../ids.js';
import { checkRequestRate, setRequestRate } from '../../limits/tenant-limits.js';
import { describeTenantWithUsage } from '../../limits/tenant-usage.js';
import { checkTierQuota, defaultMeasure, tierView } from '../../limits/tier-quotas.js';
import { changeTier, type TierChangeDeps } from '../../moves/move-jobs.js';
import { checkRegion } from '../../placement/region.js';
import type { TenantProvisioner } from '../../provisioning/tenant-provisioner.js';
import { describeTenant, describeTenants } from '../../provisioning/tenant-view.js';
import { parseLimit } from '../pagination.js';
import { actorOf } from '../request-actor.js';
import { tenantFilterOf } from '../tenant-list-query.js';

function body(req: Request): Record<string, unknown> {
  if (req.body === null || typeof req.body !== 'object' || Array.isArray(req.body)) {
    throw new InvalidInputError('request body must be a JSON object', 'invalid_body');
  }
  return req.body as Record<string, unknown>;
}

/** What the admin API reads and changes: the catalog, the provisioner, the job queue and the backup store. */
export interface AdminApiDeps extends TierChangeDeps {
  tenants: TenantProvisioner;
  /** For deleting a tenant with its backups: its keys and its exports go. */
  backupKeys: TenantKeyring;
  objectStore: ObjectStore;
}

/** The admin API under /admin/v1 (the caller's token carries `tenantplane:admin`). */
export function adminApi(tp: AdminApiDeps): Router {
  const router = Router();

  router.post('/tenants', async (req, res) => {
    const { id, name, tier, region, ...rest } = body(req);
    if (Object.keys(rest).length > 0) throw new UnknownFieldError('unknown fields in body');
    if (typeof tier !== 'string') throw new InvalidInputError('tier is required', 'missing_field');
    if (name !== undefined && typeof name !== 'string') throw new InvalidInputError('name must be a string');
    const tenant = await tp.tenants.create(
      { id: assertSlug(id), tier, region: checkRegion(region), ...(name === undefined ? {} : { name }) },
      actorOf(req),
    );
    res.status(201).json(await describeTenant(tp.catalog, tenant));
  });

  router.get('/tenants', async (req, res) => {
    const limit = parseLimit(req.query.limit, 50, 500);
    const after = req.query.cursor === undefined ? undefined : assertSlug(req.query.cursor, 'cursor');
    const filter = tenantFilterOf(req);
    const tenants = await tp.catalog.listTenants({ limit: limit + 1, filter, ...(after ? { after } : {}) });
    const page = tenants.slice(0, limit);
    res.json({
      data: await describeTenants(tp.catalog, page),
      next_cursor: tenants.length > limit ? (page.at(-1)?.id ?? null) : null,
    });
  });

  router.get('/tiers', async (_req, res) => {
    res.json({ data: (await tp.catalog.listTiers()).map(tierView) });
  });

  // A tier's quotas, all of them at once: what the body lists is what the tier has afterwards.
  router.put('/tiers/:id/quotas', async (req, res) => {
    const { quotas, ...rest } = body(req);
    if (Object.keys(rest).length > 0) throw new UnknownFieldError('unknown fields in body');
    if (!Array.isArray(quotas)) throw new InvalidFieldError('quotas must be an array');
    const checked = quotas.map((quota: unknown) => {
      if (quota === null || typeof quota !== 'object' || Array.isArray(quota)) {
        throw new InvalidQuotaError('each quota is an object {name, counts?, max}');
      }
      const { name, counts, max, ...extra } = quota as Record<string, unknown>;
      if (Object.keys(extra).length > 0) {
        throw new UnknownFieldError('unknown fields in a quota');
      }
      const measure = counts ?? (typeof name === 'string' ? defaultMeasure(name) : undefined);
      return checkTierQuota({ name, counts: measure, max: max === undefined ? Number.NaN : max });
    });
    res.json(tierView(await tp.catalog.setTierQuotas(req.params.id, checked, actorOf(req))));
  });

  router.get('/tenants/:id', async (req, res) => {
    const tenant = await tp.catalog.requireTenant(assertSlug(req.params.id));
    res.json(await describeTenantWithUsage(tp.catalog, tenant));
  });

  router.patch('/tenants/:id', async (req, res) => {
    const id = assertSlug(req.params.id);
    const { tier, status, name, requests_per_minute: rate, features, ...rest } = body(req);
    if (Object.keys(rest).length > 0) throw new UnknownFieldError('unknown fields in body');
    if ([tier, status, name, rate, features].every((field) => field === undefined)) {
      throw new InvalidInputError('give tier, status, name, requests_per_minute or features', 'empty_update');
    }
    // Checked before anything changes, so a bad field leaves the tenant as it was.
    if (rate !== undefined) checkRequestRate(rate);
    const featureChange = features === undefined ? undefined : checkFeatureChange(features);
    const actor = actorOf(req);
    if (status !== undefined) {
      if (status !== 'active' && status !== 'suspended') {
        throw new InvalidFieldError('status must be "active" or "suspended"');
      }
      await tp.tenants.setStatus(id, status, actor);
    }
    let moveJob: string | undefined;
    if (tier !== undefined) {
      if (typeof tier !== 'string') throw new InvalidFieldError('tier must be a string');
      // A change of placement copies the tenant's rows: a job, answered 202 with its id.
      moveJob = (await changeTier(tp, id, tier, actor)).jobId;
    }
    if (name !== undefined) {
      if (typeof name !== 'string' || name.trim() === '' || name.length > 200) {
        throw new InvalidFieldError('name must be 1-200 characters');
      }
      const before = await tp.catalog.requireTenant(id);
      await tp.catalog.updateTenant(id, { name });
      await tp.catalog.audit(actor, 'tenant.rename', id, { from: before.name, to: name });
    }
    if (rate !== undefined) await setRequestRate(tp.catalog, id, rate as number | null, actor);
    if (featureChange) await changeTenantFeatures(tp.catalog, id, featureChange, actor);
    if (moveJob !== undefined) {
      res.status(202).json({ job_id: moveJob });
      return;
    }
    res.json(await describeTenantWithUsage(tp.catalog, await tp.catalog.requireTenant(id)));
  });

  router.delete('/tenants/:id', async (req, res) => {
    const id = assertSlug(req.params.id);
    const destroy = req.query.destroy_backups;
    if (destroy !== undefined && destroy !== 'true' && destroy !== 'false') {
      throw new InvalidInputError('destroy_backups must be true or false', 'invalid_query');
    }
    const deletion = await deleteTenant(
      tp,
      { id, confirm: id, destroyBackups: destroy === 'true' },
      actorOf(req),
    );
    const view = await describeTenant(tp.catalog, deletion.tenant);
    res.json(deletion.backupKeys ? { ...view, backup_keys_destroyed: true } : view);
  });

  return router;
}
