import { errorResponses, jsonBody, jsonResponse, type OpenApiObject, ref } from './openapi-helpers.js';

/** Errors any admin API request can meet: bad input, no token, no admin scope, a dependency down. */
const COMMON_ERRORS = [400, 401, 403, 503] as const;

function operation(id: string, tag: string, summary: string, details: OpenApiObject): OpenApiObject {
  return { operationId: id, tags: [tag], summary, ...details };
}

const accepted = { '202': jsonResponse('accepted: a job', 'JobAccepted') };
const limit = (max: number, fallback: number) => ({
  name: 'limit',
  in: 'query',
  schema: { type: 'integer', minimum: 1, maximum: max, default: fallback },
});

/** The admin API: tokens whose `scope` contains `tenantplane:admin`. */
export const adminPaths: Record<string, OpenApiObject> = {
  '/admin/v1/tenants': {
    post: operation('createTenant', 'tenants', 'Create a tenant, placed by tier and region, migrated', {
      requestBody: jsonBody('TenantCreate'),
      responses: {
        '201': jsonResponse('created and active', 'Tenant'),
        ...errorResponses(...COMMON_ERRORS, 409),
      },
    }),
    get: operation('listTenants', 'tenants', 'Tenants in id order, searched and filtered', {
      parameters: [
        {
          name: 'q',
          in: 'query',
          schema: { type: 'string', minLength: 1, maxLength: 100 },
          description: 'tenants whose id starts with it or whose name contains it (any case)',
        },
        { name: 'tier', in: 'query', schema: { type: 'string' }, description: 'only this tier' },
        {
          name: 'status',
          in: 'query',
          schema: { enum: ['provisioning', 'active', 'suspended', 'moving', 'deleting'] },
          description: 'only this status',
        },
        { name: 'server', in: 'query', schema: { type: 'string' }, description: 'only those on this server' },
        { name: 'region', in: 'query', schema: { type: 'string' }, description: 'only tenants pinned to it' },
        limit(500, 50),
        ref('parameters', 'Cursor'),
      ],
      responses: { '200': jsonResponse('a page', 'TenantPage'), ...errorResponses(...COMMON_ERRORS) },
    }),
  },
  '/admin/v1/tiers': {
    get: operation('listTiers', 'tiers', 'The tiers with their request rate and quotas', {
      responses: { '200': jsonResponse('every tier', 'TierList'), ...errorResponses(...COMMON_ERRORS) },
    }),
  },
  '/admin/v1/tiers/{id}/quotas': {
    parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
    put: operation('setTierQuotas', 'tiers', "Replace a tier's quotas (audited as tier.set_quotas)", {
      requestBody: jsonBody('TierQuotasUpdate'),
      responses: {
        '200': jsonResponse('the tier', 'Tier'),
        ...errorResponses(...COMMON_ERRORS, 404),
      },
    }),
  },
  '/admin/v1/tenants/{id}': {
    parameters: [ref('parameters', 'TenantId')],
    get: operation('getTenant', 'tenants', 'A tenant with its placement, limits and usage', {
      responses: {
        '200': jsonResponse('the tenant', 'TenantDetail'),
        ...errorResponses(...COMMON_ERRORS, 404),
      },
    }),
    patch: operation('updateTenant', 'tenants', 'Suspend, resume, rename; change tier, rate or flags', {
      requestBody: jsonBody('TenantUpdate'),
      responses: {
        '200': jsonResponse('the tenant', 'TenantDetail'),
        '202': jsonResponse('a tier change that moves the tenant to another placement: a job', 'JobAccepted'),
        ...errorResponses(...COMMON_ERRORS, 404, 409),
      },
    }),
    delete: operation('deleteTenant', 'tenants', "Delete the tenant's rows or its dedicated database", {
      parameters: [
        {
          name: 'destroy_backups',
          in: 'query',
          schema: { type: 'boolean', default: false },
          description: "also shred the keys of the tenant's backups, making them unreadable",
        },
      ],
      responses: {
        '200': jsonResponse('the deleted tenant', 'Tenant'),
        ...errorResponses(...COMMON_ERRORS, 404, 409),
      },
    }),
  },
  '/admin/v1/tenants/{id}/exports': {
    parameters: [ref('parameters', 'TenantId'), ref('parameters', 'IdempotencyKey')],
    post: operation('exportTenant', 'backups', "Export the tenant's rows to BACKUP_URL, as a job", {
      responses: {
        '202': jsonResponse('accepted: a job', 'ExportAccepted'),
        ...errorResponses(...COMMON_ERRORS, 404, 409),
      },
    }),
  },
  '/admin/v1/tenants/{id}/backups': {
    parameters: [ref('parameters', 'TenantId')],
    post: operation('backupTenant', 'backups', 'Take an encrypted backup of the tenant, as a job', {
      parameters: [ref('parameters', 'IdempotencyKey')],
      requestBody: jsonBody('BackupRequest', false),
      responses: {
        '202': jsonResponse('accepted: a job', 'BackupAccepted'),
        ...errorResponses(...COMMON_ERRORS, 404, 409),
      },
    }),
    get: operation('listTenantBackups', 'backups', "The tenant's backups, newest first", {
      responses: { '200': jsonResponse('backups', 'BackupList'), ...errorResponses(...COMMON_ERRORS, 404) },
    }),
  },
  '/admin/v1/tenants/{id}/restores': {
    parameters: [ref('parameters', 'TenantId'), ref('parameters', 'IdempotencyKey')],
    post: operation('restoreTenant', 'backups', 'Restore a backup in place or into a new tenant, as a job', {
      requestBody: jsonBody('RestoreRequest'),
      responses: { ...accepted, ...errorResponses(...COMMON_ERRORS, 404, 409) },
    }),
  },
  '/admin/v1/servers/{id}/undrain': {
    parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
    post: operation('undrainServer', 'servers', 'Let a draining server take new placements again', {
      responses: {
        '200': jsonResponse('the server', 'Server'),
        ...errorResponses(...COMMON_ERRORS, 404),
      },
    }),
  },
  '/admin/v1/jobs/{job_id}': {
    parameters: [ref('parameters', 'JobId')],
    get: operation('getJob', 'jobs', 'A job: state, progress, result or error', {
      responses: { '200': jsonResponse('the job', 'Job'), ...errorResponses(...COMMON_ERRORS, 404) },
    }),
  },
  '/admin/v1/jobs/{job_id}/events': {
    parameters: [ref('parameters', 'JobId')],
    get: operation('followJob', 'jobs', 'A job as server-sent events, until it finishes', {
      description:
        'A `data:` event with the job (as GET /admin/v1/jobs/{job_id}) at once, then one each time its state ' +
        'or progress changes; the stream ends after the completed or failed state. `: keep-alive` comment ' +
        'lines every 15 s.',
      responses: {
        '200': {
          description: 'the job, then each change of it',
          content: { 'text/event-stream': { schema: { type: 'string' } } },
        },
        ...errorResponses(...COMMON_ERRORS, 404),
      },
    }),
  },
  '/admin/v1/migrations': {
    get: operation('getMigrationStatus', 'migrations', 'Per database: applied, pending, drift, last run', {
      responses: {
        '200': jsonResponse('every database', 'MigrationStatusList'),
        ...errorResponses(...COMMON_ERRORS),
      },
    }),
  },
  '/admin/v1/migrations/runs': {
    post: operation('startMigrationRun', 'migrations', 'Run tenant migrations across the fleet, as a job', {
      requestBody: jsonBody('MigrationRunRequest', false),
      responses: { ...accepted, ...errorResponses(...COMMON_ERRORS) },
    }),
  },
  '/admin/v1/audit': {
    get: operation('listAudit', 'audit', 'The audit log of admin actions, newest first', {
      parameters: [
        { name: 'tenant', in: 'query', schema: { type: 'string' }, description: 'only this tenant' },
        limit(500, 50),
        ref('parameters', 'Cursor'),
      ],
      responses: { '200': jsonResponse('a page', 'AuditPage'), ...errorResponses(...COMMON_ERRORS) },
    }),
  },
};
