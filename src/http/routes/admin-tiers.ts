import { Router } from 'express';
import type { Catalog } from '../../catalog/catalog.js';
import { changeTierFeatures, checkFeatureChange } from '../../catalog/feature-flags.js';
import { NotFoundError } from '../../errors/index.js';
import { tierView } from '../../limits/tier-quotas.js';
import { actorOf } from '../request-actor.js';
import { bodyFields } from '../request-fields.js';

/**
 * One tier under /admin/v1/tiers/:tier: read it, change its default feature flags. (The list and the
 * quotas are in admin-api.ts.)
 */
export function adminTiersApi(deps: { catalog: Catalog }): Router {
  const router = Router();

  router.get('/tiers/:tier', async (req, res) => {
    const tier = await deps.catalog.getTier(req.params.tier);
    if (!tier) throw new NotFoundError(`no tier ${req.params.tier}`, 'unknown_tier');
    res.json(tierView(tier));
  });

  // `{features: {name: true|false|null}}`: sets or (null) removes defaults; the flags not named stay.
  router.patch('/tiers/:tier', async (req, res) => {
    const { features } = bodyFields(req, ['features'], ['features']);
    const change = checkFeatureChange(features);
    res.json(tierView(await changeTierFeatures(deps.catalog, req.params.tier, change, actorOf(req))));
  });

  return router;
}
