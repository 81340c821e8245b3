import { errorResponses, jsonBody, jsonResponse, type OpenApiObject, ref } from './openapi-helpers.js';

const COMMON_ERRORS = [400, 401, 403, 503] as const;
const TIER = { name: 'tier', in: 'path', required: true, schema: { type: 'string' } };
/** A tenant id, and a flag's name (a slug, as tenant ids are). */
const SLUG = '^[a-z][a-z0-9-]{1,38}[a-z0-9]$';

/** One tier and its default feature flags (admin API). */
export const tierPaths: Record<string, OpenApiObject> = {
  '/admin/v1/tiers/{tier}': {
    parameters: [TIER],
    get: {
      operationId: 'getTier',
      tags: ['tiers'],
      summary: 'A tier with its request rate, quotas and default feature flags',
      responses: { '200': jsonResponse('the tier', 'Tier'), ...errorResponses(...COMMON_ERRORS, 404) },
    },
    patch: {
      operationId: 'updateTierFeatures',
      tags: ['tiers'],
      summary:
        "Set or remove a tier's default feature flags; every tenant of the tier sees them unless it overrides them (audited tier.set_features)",
      requestBody: jsonBody('TierFeaturesUpdate'),
      responses: { '200': jsonResponse('the tier', 'Tier'), ...errorResponses(...COMMON_ERRORS, 404) },
    },
  },
};

export const tierSchemas: Record<string, OpenApiObject> = {
  FeatureFlags: {
    type: 'object',
    description: 'feature flags by name, on (true) or off (false)',
    propertyNames: { pattern: SLUG },
    additionalProperties: { type: 'boolean' },
    examples: [{ 'beta-ui': true, sso: false }],
  },
  FeatureFlagsUpdate: {
    type: 'object',
    description: 'flags to set (true or false) or remove (null); the flags not named stay as they are',
    propertyNames: { pattern: SLUG },
    additionalProperties: { type: ['boolean', 'null'] },
    examples: [{ 'beta-ui': true, sso: null }],
  },
  TierFeaturesUpdate: {
    type: 'object',
    required: ['features'],
    additionalProperties: false,
    properties: { features: ref('schemas', 'FeatureFlagsUpdate') },
  },
  OwnTenant: {
    type: 'object',
    description:
      "The calling tenant's own view, for an application's self-service page: its effective feature flags, limits (null: unlimited) and quota usage, measured at each call.",
    required: ['id', 'name', 'tier', 'status', 'features', 'limits', 'usage'],
    properties: {
      id: { type: 'string', pattern: SLUG },
      name: { type: 'string' },
      tier: { type: 'string', examples: ['starter', 'pro', 'enterprise'] },
      status: { enum: ['active'], description: 'only an active tenant is served' },
      features: {
        ...ref('schemas', 'FeatureFlags'),
        description: "effective feature flags: the tier's defaults overlaid by the tenant's own",
      },
      limits: ref('schemas', 'TenantLimits'),
      usage: ref('schemas', 'TenantUsage'),
    },
  },
};
