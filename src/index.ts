/**
 * tenantplane as a library: open the control plane, then route requests of your own express app to each
 * tenant's database. docs/embedding.md shows how, in examples that run as tests.
 */
export { ADMIN_SCOPES } from './auth/admin-scopes.js';
export { authenticate } from './auth/authenticate.js';
export { authorizeAdmin, requireAdmin } from './auth/authorize-admin.js';
export { DevIssuer } from './auth/dev-issuer.js';
export { auditImpersonatedRequests } from './auth/impersonation-audit.js';
export { ADMIN_SCOPE, type Principal, type TokenVerifier } from './auth/principal.js';
export { enforceTenantRole, TENANT_ROLES } from './auth/tenant-role.js';
export { createTokenVerifier, type TokenVerifierOptions } from './auth/token-verifier.js';
export { Catalog } from './catalog/catalog.js';
export type {
  DatabaseRecord,
  QuotaMeasure,
  TenantLimits,
  TenantRecord,
  TenantRoute,
  TierQuota,
  TierRecord,
} from './catalog/records.js';
export { type Config, loadConfig } from './config.js';
export * from './errors/index.js';
export { errorHandler } from './http/error-handler.js';
export { rateLimit } from './http/rate-limit.js';
export { mountedAt } from './http/request-metrics.js';
export { metricsEndpoint } from './http/routes/metrics-endpoint.js';
export { type TenantContextOptions, tenantContext } from './http/tenant-context.js';
export { type TrackRequestsOptions, trackRequests } from './http/track-requests.js';
export { assertSlug, isSlug, SLUG_PATTERN } from './ids.js';
export { insertWithinQuota } from './limits/quota-guard.js';
export { type RateLimitMode, TenantRateLimiter } from './limits/tenant-rate-limiter.js';
export { createLogger } from './logging/logger.js';
export { Metrics } from './metrics/metrics.js';
export {
  PlacementPolicy,
  type PlacementPolicyOptions,
  type PlacementTenant,
} from './placement/placement-policy.js';
export { REGION_PATTERN } from './placement/region.js';
export { ElasticPool, type ElasticPoolOptions } from './routing/elastic-pool.js';
export { TenantDatabase, type TenantKnex, TenantTransaction } from './routing/tenant-database.js';
export { TenantRouter, type TenantRouterOptions } from './routing/tenant-router.js';
export { ServingTenantplane, Tenantplane, type TenantplaneOptions } from './tenantplane.js';
export { traceRequests } from './tracing/request-spans.js';
export { startTracing, type TracingSdk } from './tracing/tracing-sdk.js';
