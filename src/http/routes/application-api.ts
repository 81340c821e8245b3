import { type ErrorRequestHandler, Router } from 'express';
import type { Catalog } from '../../catalog/catalog.js';
import { NotFoundError, SQLSTATE } from '../../errors/index.js';
import { ownTenant } from './own-tenant.js';
import { registerResource } from './resource-router.js';

/**
 * A tenant whose schema is a product's own (TENANT_MIGRATIONS_DIR) has none of the sample's tables: its
 * requests to the sample's routes are 404 `not_in_schema`, not an internal error.
 */
const sampleTablesMissing: ErrorRequestHandler = (error, _req, _res, next) => {
  next(
    (error as { code?: unknown } | null)?.code === SQLSTATE.undefinedTable
      ? new NotFoundError(
          "this tenant's schema has no table of the sample application's API (tenant-migrations/)",
          'not_in_schema',
        )
      : error,
  );
};

/**
 * The sample application's API under /api/v1 (deployments and workflows, on the sample tenant schema of
 * tenant-migrations/); the tenant comes from the request (see tenantContext). A team with a schema of its
 * own (TENANT_MIGRATIONS_DIR) serves its own routes the same way, through the router; creates count
 * against the tier's quotas on the table's rows (the sample's are rows of tier_quotas like any other).
 */
export function applicationApi(deps: { catalog: Catalog }): Router {
  const router = Router();
  router.get('/tenant', ownTenant(deps.catalog));
  registerResource(router, '/deployments', {
    table: 'deployments',
    fields: {
      project_name: { kind: 'text', required: true, max: 200 },
      status: { kind: 'status', required: true, max: 40 },
      url: { kind: 'url', required: false, max: 2048 },
    },
  });
  registerResource(router, '/workflows', {
    table: 'workflows',
    fields: {
      name: { kind: 'text', required: true, max: 200 },
      status: { kind: 'status', required: true, max: 40 },
      config: { kind: 'object', required: false, max: 65536 },
    },
  });
  router.use(sampleTablesMissing);
  return router;
}
