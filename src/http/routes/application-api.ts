import { Router } from 'express';
import { registerResource } from './resource-router.js';

/** The application API under /api/v1; the tenant comes from the request (see tenantContext). */
export function applicationApi(): Router {
  const router = Router();
  registerResource(router, '/deployments', {
    table: 'deployments',
    quota: 'deployments',
    fields: {
      project_name: { kind: 'text', required: true, max: 200 },
      status: { kind: 'status', required: true, max: 40 },
      url: { kind: 'url', required: false, max: 2048 },
    },
  });
  registerResource(router, '/workflows', {
    table: 'workflows',
    quota: 'workflows',
    fields: {
      name: { kind: 'text', required: true, max: 200 },
      status: { kind: 'status', required: true, max: 40 },
      config: { kind: 'object', required: false, max: 65536 },
    },
  });
  return router;
}
