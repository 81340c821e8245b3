import { jsonResponse, type OpenApiObject, ref } from './openapi-helpers.js';

const SLUG = '^[a-z][a-z0-9-]{1,38}[a-z0-9]$';
/** A region's name (src/placement/region.ts). */
const REGION = '^[a-z][a-z0-9-]{0,38}[a-z0-9]$';
const STATUS_WORD = '^[a-z][a-z0-9_-]{0,39}$';
const timestamp = { type: 'string', format: 'date-time' };
const nullableCount = { type: ['integer', 'null'], minimum: 0 };

/** A page of `item` rows with an opaque cursor to the next page (null on the last). */
function page(item: string, extra: OpenApiObject = {}, required: string[] = []): OpenApiObject {
  return {
    type: 'object',
    required: ['data', 'next_cursor', ...required],
    properties: {
      data: { type: 'array', items: ref('schemas', item) },
      next_cursor: { type: ['string', 'null'], description: 'pass as `cursor` for the next page' },
      ...extra,
    },
  };
}

/** An application row: `fields` plus the columns every tenant table has. */
function row(fields: OpenApiObject, required: string[]): OpenApiObject {
  return {
    type: 'object',
    required: ['id', 'tenant_id', ...required, 'created_at', 'updated_at'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      tenant_id: { type: 'string', pattern: SLUG },
      ...fields,
      created_at: timestamp,
      updated_at: timestamp,
    },
  };
}

const deploymentFields = {
  project_name: { type: 'string', minLength: 1, maxLength: 200 },
  status: { type: 'string', pattern: STATUS_WORD },
  url: { type: ['string', 'null'], format: 'uri', maxLength: 2048, description: 'http(s) URL' },
};
const workflowFields = {
  name: { type: 'string', minLength: 1, maxLength: 200 },
  status: { type: 'string', pattern: STATUS_WORD },
  config: { type: ['object', 'null'], description: 'any JSON object, at most 64 KiB' },
};

const schemas: Record<string, OpenApiObject> = {
  Error: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        description: 'Some codes add fields, e.g. `quota_exceeded` adds `quota`, `limit` and `usage`.',
        properties: {
          code: { type: 'string', pattern: '^[a-z][a-z0-9_]*$', examples: ['tenant_mismatch'] },
          message: { type: 'string' },
        },
      },
    },
  },
  Health: { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } },
  Readiness: {
    type: 'object',
    required: ['status', 'checks'],
    properties: {
      status: { enum: ['ready', 'degraded', 'not_ready', 'shutting_down'] },
      checks: {
        type: 'object',
        description: 'each check by name: `ok` or what is wrong',
        additionalProperties: { type: 'string' },
      },
    },
  },
  Jwks: {
    type: 'object',
    required: ['keys'],
    properties: { keys: { type: 'array', items: { type: 'object' } } },
  },
  Deployment: row(deploymentFields, ['project_name', 'status', 'url']),
  DeploymentCreate: {
    type: 'object',
    required: ['project_name', 'status'],
    additionalProperties: false,
    properties: deploymentFields,
  },
  DeploymentUpdate: {
    type: 'object',
    minProperties: 1,
    additionalProperties: false,
    properties: deploymentFields,
  },
  DeploymentPage: page('Deployment', { tenant_id: { type: 'string', pattern: SLUG } }, ['tenant_id']),
  Workflow: row(workflowFields, ['name', 'status', 'config']),
  WorkflowCreate: {
    type: 'object',
    required: ['name', 'status'],
    additionalProperties: false,
    properties: workflowFields,
  },
  WorkflowUpdate: {
    type: 'object',
    minProperties: 1,
    additionalProperties: false,
    properties: workflowFields,
  },
  WorkflowPage: page('Workflow', { tenant_id: { type: 'string', pattern: SLUG } }, ['tenant_id']),
  Tenant: {
    type: 'object',
    required: ['id', 'name', 'tier', 'status', 'placement', 'created_at', 'updated_at'],
    properties: {
      id: { type: 'string', pattern: SLUG },
      name: { type: 'string' },
      tier: { type: 'string', examples: ['starter', 'pro', 'enterprise'] },
      status: { enum: ['provisioning', 'active', 'suspended', 'moving', 'deleting', 'deleted'] },
      region: {
        type: ['string', 'null'],
        pattern: REGION,
        description: 'the region the tenant is pinned to; null: unpinned',
      },
      feature_overrides: {
        ...ref('schemas', 'FeatureFlags'),
        description: "the tenant's own feature flags, overriding its tier's",
      },
      placement: {
        oneOf: [
          { type: 'null' },
          {
            type: 'object',
            required: ['kind', 'database_id', 'server_id', 'database_name'],
            properties: {
              kind: { enum: ['shard', 'dedicated'] },
              database_id: { type: 'string' },
              server_id: { type: 'string' },
              database_name: { type: 'string' },
            },
          },
        ],
      },
      created_at: timestamp,
      updated_at: timestamp,
      backup_keys_destroyed: {
        type: 'boolean',
        description: 'only on a delete with `destroy_backups=true`: the tenant backup keys were shredded',
      },
    },
  },
  TenantDetail: {
    description:
      "A tenant with its limits (null: unlimited) and usage (null while its server is down). Quotas are its tier's, keyed by name; the sample application's tiers have `users`, `deployments`, `workflows` and `storage_bytes`.",
    allOf: [
      ref('schemas', 'Tenant'),
      {
        type: 'object',
        properties: {
          features: {
            ...ref('schemas', 'FeatureFlags'),
            description: "effective feature flags: the tier's defaults overlaid by the tenant's own",
          },
          limits: ref('schemas', 'TenantLimits'),
          usage: ref('schemas', 'TenantUsage'),
        },
      },
    ],
  },
  TenantLimits: {
    type: 'object',
    required: ['requests_per_minute'],
    properties: {
      requests_per_minute: nullableCount,
      users: nullableCount,
      deployments: nullableCount,
      workflows: nullableCount,
      storage_bytes: nullableCount,
    },
    additionalProperties: { ...nullableCount, description: "a quota of the tenant's tier" },
  },
  TenantUsage: {
    type: ['object', 'null'],
    description: "each quota's use, and storage_bytes always",
    properties: {
      users: { type: 'integer' },
      deployments: { type: 'integer' },
      workflows: { type: 'integer' },
      storage_bytes: { type: 'integer' },
    },
    additionalProperties: { type: 'integer', minimum: 0 },
  },
  TenantCreate: {
    type: 'object',
    required: ['id', 'tier'],
    additionalProperties: false,
    properties: {
      id: { type: 'string', pattern: SLUG },
      name: { type: 'string', maxLength: 200 },
      tier: { type: 'string', examples: ['starter', 'pro', 'enterprise'] },
      region: {
        type: ['string', 'null'],
        pattern: REGION,
        description:
          'pin the tenant to a region: placed only on servers of it; one no server is of is refused with 400 `unknown_region`',
      },
    },
  },
  Server: {
    type: 'object',
    required: ['id', 'host', 'port', 'region', 'draining', 'max_connections', 'created_at'],
    properties: {
      id: { type: 'string', pattern: SLUG },
      host: { type: 'string' },
      port: { type: 'integer', minimum: 1, maximum: 65535 },
      region: { type: ['string', 'null'], pattern: REGION },
      draining: { type: 'boolean', description: 'a draining server takes no new placements' },
      max_connections: { type: 'integer', minimum: 1 },
      created_at: timestamp,
    },
  },
  TenantUpdate: {
    type: 'object',
    minProperties: 1,
    additionalProperties: false,
    properties: {
      status: { enum: ['active', 'suspended'] },
      tier: { type: 'string', description: 'a change of placement (shard ⇄ dedicated) is a job: 202' },
      name: { type: 'string', minLength: 1, maxLength: 200 },
      requests_per_minute: { ...nullableCount, description: "the tenant's own rate; null for its tier's" },
      features: ref('schemas', 'FeatureFlagsUpdate'),
    },
  },
  TenantPage: page('Tenant'),
  TierQuota: {
    type: 'object',
    required: ['name', 'counts', 'max'],
    additionalProperties: false,
    properties: {
      name: {
        type: 'string',
        pattern: '^[a-z][a-z0-9_]{0,62}$',
        description: 'the key in `limits`, `usage` and `quota_exceeded`; not requests_per_minute',
      },
      counts: {
        type: 'string',
        pattern: '^(rows:[a-z_][a-z0-9_]{0,62}|storage_bytes)$',
        description:
          "`rows:<table>`: the tenant's rows in that table of the tenant schema; `storage_bytes` (the quota named so): the size of its rows in every tenant table",
      },
      max: { ...nullableCount, description: 'null: measured and reported, never limited' },
    },
  },
  Tier: {
    type: 'object',
    required: ['id', 'placement', 'pool_size', 'requests_per_minute', 'quotas', 'features'],
    properties: {
      id: { type: 'string', examples: ['starter', 'pro', 'enterprise'] },
      placement: { enum: ['shard', 'dedicated'] },
      pool_size: { type: 'integer', minimum: 1 },
      requests_per_minute: { type: 'integer', minimum: 1 },
      quotas: { type: 'array', items: ref('schemas', 'TierQuota') },
      features: {
        ...ref('schemas', 'FeatureFlags'),
        description: 'default feature flags of its tenants, which each may override',
      },
    },
  },
  TierList: {
    type: 'object',
    required: ['data'],
    properties: { data: { type: 'array', items: ref('schemas', 'Tier') } },
  },
  TierQuotasUpdate: {
    type: 'object',
    required: ['quotas'],
    additionalProperties: false,
    properties: {
      quotas: {
        type: 'array',
        description:
          "all of the tier's quotas afterwards; `counts` defaults to `rows:<name>` (`storage_bytes` for that name)",
        items: {
          type: 'object',
          required: ['name', 'max'],
          additionalProperties: false,
          properties: {
            name: { type: 'string' },
            counts: { type: 'string' },
            max: nullableCount,
          },
        },
      },
    },
  },
  JobAccepted: {
    type: 'object',
    required: ['job_id'],
    properties: { job_id: { type: 'string', description: 'follow it at /admin/v1/jobs/{job_id}' } },
  },
  Job: {
    type: 'object',
    required: ['id', 'state', 'progress', 'result', 'error'],
    properties: {
      id: { type: 'string' },
      state: { enum: ['waiting', 'active', 'completed', 'failed', 'delayed', 'unknown'] },
      progress: {
        description:
          'a percentage or a JSON object, as the job reports it; null for an export, backup or restore the queue has forgotten, answered from the catalog',
      },
      result: { description: 'what the job returned, once completed' },
      error: { type: ['string', 'null'] },
      error_code: {
        type: ['string', 'null'],
        description:
          "a failed export's, backup's or restore's error code (snake_case), when its error carried one",
      },
      last_drill: ref('schemas', 'LastDrill'),
    },
  },
  MigrationStatus: {
    type: 'object',
    required: ['databaseId', 'kind', 'reachable', 'applied', 'pending', 'unknown', 'missing', 'drift'],
    properties: {
      databaseId: { type: 'string' },
      kind: { enum: ['shard', 'dedicated'] },
      serverId: { type: 'string' },
      databaseName: { type: 'string' },
      reachable: { type: 'boolean' },
      error: { type: 'string' },
      applied: { type: 'array', items: { type: 'string' } },
      pending: { type: 'array', items: { type: 'string' } },
      unknown: { type: 'array', items: { type: 'string' } },
      missing: { type: 'array', items: { type: 'string' } },
      drift: { type: 'boolean' },
      lastRun: {
        type: 'object',
        properties: {
          runId: { type: 'string' },
          status: { type: 'string' },
          error: { type: ['string', 'null'] },
          finishedAt: { type: ['string', 'null'], format: 'date-time' },
        },
      },
    },
  },
  MigrationStatusList: {
    type: 'object',
    required: ['data'],
    properties: { data: { type: 'array', items: ref('schemas', 'MigrationStatus') } },
  },
  MigrationRunRequest: {
    type: 'object',
    additionalProperties: false,
    properties: {
      direction: { enum: ['up', 'down'], default: 'up' },
      to: { type: 'string', description: 'required for `down`: the migration to roll back to, or `0`' },
      concurrency: { type: 'integer', minimum: 1 },
      canary: { type: 'integer', minimum: 0 },
      target: { type: 'string', description: 'a shard id, `tenant:<id>` or a database name' },
      dry_run: { type: 'boolean', default: false },
    },
  },
  AuditEntry: {
    type: 'object',
    required: ['id', 'at', 'actor', 'action', 'tenant_id', 'request_id', 'details'],
    properties: {
      id: { type: 'string' },
      at: timestamp,
      actor: { type: 'string' },
      action: { type: 'string', examples: ['tenant.create', 'tenant.suspend', 'migration.run'] },
      tenant_id: { type: ['string', 'null'] },
      request_id: { type: ['string', 'null'] },
      details: {},
    },
  },
  AuditPage: page('AuditEntry'),
  BackupRequest: {
    type: 'object',
    additionalProperties: false,
    properties: {
      compress: {
        type: 'boolean',
        default: true,
        description: 'rows compressed with zstd before encryption; false stores them as COPY text',
      },
    },
  },
  ExportAccepted: {
    allOf: [
      ref('schemas', 'JobAccepted'),
      { type: 'object', required: ['export_id'], properties: { export_id: { type: 'string' } } },
    ],
  },
  BackupAccepted: {
    allOf: [
      ref('schemas', 'JobAccepted'),
      { type: 'object', required: ['backup_id'], properties: { backup_id: { type: 'string' } } },
    ],
  },
  RestoreRequest: {
    type: 'object',
    required: ['backup_id'],
    additionalProperties: false,
    properties: {
      backup_id: { type: 'string' },
      into: { type: 'string', pattern: SLUG, description: 'restore into a new tenant instead of in place' },
      tier: { type: 'string', description: 'tier of the new tenant (with `into`)' },
    },
  },
  Backup: {
    type: 'object',
    required: ['id', 'tenant_id', 'state', 'created_at'],
    properties: {
      id: { type: 'string' },
      tenant_id: { type: 'string', pattern: SLUG },
      state: {
        enum: ['pending', 'complete', 'failed', 'deleting'],
        description: 'only a `complete` backup can be verified or restored; `deleting`: being pruned',
      },
      object_key: { type: ['string', 'null'] },
      size_bytes: { type: ['integer', 'null'] },
      sha256: { type: ['string', 'null'] },
      schema_version: { type: ['string', 'null'] },
      key_id: { type: ['string', 'null'] },
      row_counts: { type: ['object', 'null'], additionalProperties: { type: 'integer' } },
      created_at: timestamp,
      completed_at: { type: ['string', 'null'], format: 'date-time' },
      error: { type: ['string', 'null'] },
      held: { type: 'boolean', description: 'under a legal hold: never pruned' },
    },
  },
  BackupList: {
    type: 'object',
    required: ['data'],
    properties: { data: { type: 'array', items: ref('schemas', 'Backup') } },
  },
};

const errorResponse = (description: string, headers: OpenApiObject = {}) =>
  jsonResponse(description, 'Error', headers);

const responses: Record<string, OpenApiObject> = {
  BadRequest: errorResponse('invalid input (`invalid_field`, `invalid_json`, `invalid_cursor`, ...)'),
  Unauthorized: errorResponse('no token, or a bad or expired one'),
  Forbidden: errorResponse(
    'valid token, not allowed: another tenant (`tenant_mismatch`), a suspended or unknown tenant, no admin scope, or a quota reached (`quota_exceeded`)',
  ),
  NotFound: errorResponse('no such thing, or it belongs to another tenant'),
  Conflict: errorResponse('conflicts with the current state'),
  TooManyRequests: errorResponse("past the tenant's request rate (`rate_limited`)", {
    'Retry-After': ref('headers', 'RetryAfter'),
    'X-RateLimit-Limit': ref('headers', 'XRateLimitLimit'),
    'X-RateLimit-Remaining': ref('headers', 'XRateLimitRemaining'),
    'X-RateLimit-Reset': ref('headers', 'XRateLimitReset'),
  }),
  Unavailable: errorResponse('a dependency (database server, identity provider) is down', {
    'Retry-After': ref('headers', 'RetryAfter'),
  }),
};

const integerHeader = (description: string) => ({ description, schema: { type: 'integer', minimum: 0 } });

const headers: Record<string, OpenApiObject> = {
  XRequestId: { description: "the request's id, also in every log line", schema: { type: 'string' } },
  RetryAfter: integerHeader('seconds to wait before trying again'),
  XRateLimitLimit: integerHeader("the tenant's requests per minute"),
  XRateLimitRemaining: integerHeader('requests left in the current window'),
  XRateLimitReset: integerHeader('Unix time (seconds) when the window resets'),
};

const parameters: Record<string, OpenApiObject> = {
  TenantId: { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: SLUG } },
  RowId: { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
  JobId: { name: 'job_id', in: 'path', required: true, schema: { type: 'string' } },
  IdempotencyKey: {
    name: 'Idempotency-Key',
    in: 'header',
    schema: { type: 'string', minLength: 1, maxLength: 200 },
    description: 'the same key (per tenant and kind) always answers with the same job',
  },
  Cursor: { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'from `next_cursor`' },
  StatusFilter: { name: 'status', in: 'query', schema: { type: 'string', pattern: STATUS_WORD } },
  XTenantId: {
    name: 'X-Tenant-ID',
    in: 'header',
    schema: { type: 'string', pattern: SLUG },
    description: "optional; must equal the token's tenant (else 403 `tenant_mismatch`)",
  },
};

/** The shared parts of the document: schemas, responses, headers, parameters and security schemes. */
export const components: OpenApiObject = {
  schemas,
  responses,
  headers,
  parameters,
  securitySchemes: {
    bearerAuth: {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description:
        'RS256/ES256 JWT from the identity provider. Application API: a `tenant_id` claim, and optionally `tenant_role` (`admin`, `member`, `viewer`: read-only). Admin API: `scope` containing `tenantplane:admin`, `:operator`, `:support` or `:viewer`; what each allows is in docs/roles-and-impersonation.md, and a missing one is 403 `insufficient_scope`.',
    },
    metricsToken: {
      type: 'http',
      scheme: 'bearer',
      description: 'METRICS_TOKEN, when one is configured',
    },
  },
};
