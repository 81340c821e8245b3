import { adminPaths } from './admin-paths.js';
import { applicationPaths } from './application-paths.js';
import { backupDrillPaths, backupDrillSchemas } from './backup-drill-paths.js';
import { backupSchedulePaths, backupScheduleSchemas } from './backup-schedule-paths.js';
import { fleetPaths, fleetSchemas } from './fleet-paths.js';
import { impersonationPaths, impersonationSchemas } from './impersonation-paths.js';
import { jobsPaths, jobsSchemas } from './jobs-paths.js';
import { components } from './openapi-components.js';
import type { OpenApiObject } from './openapi-helpers.js';
import { placementPaths, placementSchemas } from './placement-paths.js';
import { servicePaths } from './service-paths.js';
import { tierPaths, tierSchemas } from './tier-paths.js';
import { usagePaths, usageSchemas } from './usage-paths.js';
import { usageTierPaths, usageTierSchemas } from './usage-tier-paths.js';

/**
 * The OpenAPI 3.1 document of the whole HTTP API, served at `GET /openapi.json`. The tests compare its
 * paths and methods with the routes the express app serves, so the two cannot drift apart.
 */
export function openApiDocument(version: string): OpenApiObject {
  return {
    openapi: '3.1.0',
    info: {
      title: 'tenantplane',
      version,
      summary: 'Control plane for multi-tenant PostgreSQL SaaS',
      description:
        'Errors are `{"error": {"code", "message"}}`. Every response carries `X-Request-Id`. Application API responses carry `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`; past the limit, 429 with `Retry-After`.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    // Relative, so it resolves against wherever the document was fetched from: every path here is
    // served at the root of the origin that serves /openapi.json, whatever its scheme, host and port.
    servers: [{ url: '/', description: 'the origin this document is served from' }],
    security: [{ bearerAuth: [] }],
    tags: [
      { name: 'service', description: 'probes, metrics and discovery' },
      { name: 'tenant', description: "the application API: the calling tenant's own view" },
      { name: 'deployments', description: "the sample application's API (tenant-migrations/)" },
      { name: 'workflows', description: "the sample application's API (tenant-migrations/)" },
      { name: 'tenants', description: 'admin API' },
      { name: 'tiers', description: 'admin API: tiers, their quotas and their default feature flags' },
      { name: 'servers', description: 'admin API: the PostgreSQL servers tenants are placed on' },
      { name: 'placement', description: 'admin API: moves, drains and rebalances' },
      { name: 'backups', description: 'admin API: exports, backups, restores, schedules and legal holds' },
      { name: 'jobs', description: 'admin API' },
      { name: 'migrations', description: 'admin API: fleet migrations' },
      { name: 'audit', description: 'admin API' },
      { name: 'access', description: "admin API: the caller's scopes and impersonation of tenants" },
      { name: 'usage', description: 'admin API: usage metering for billing' },
    ],
    paths: {
      ...servicePaths,
      ...applicationPaths,
      ...adminPaths,
      ...tierPaths,
      ...placementPaths,
      ...backupDrillPaths,
      ...backupSchedulePaths,
      ...impersonationPaths,
      ...usagePaths,
      ...usageTierPaths,
      ...fleetPaths,
      ...jobsPaths,
    },
    components: {
      ...components,
      schemas: {
        ...(components.schemas as OpenApiObject),
        ...placementSchemas,
        ...tierSchemas,
        ...backupDrillSchemas,
        ...backupScheduleSchemas,
        ...impersonationSchemas,
        ...usageSchemas,
        ...usageTierSchemas,
        ...fleetSchemas,
        ...jobsSchemas,
      },
    },
  };
}
