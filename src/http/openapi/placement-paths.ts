import { errorResponses, jsonBody, jsonResponse, type OpenApiObject, ref } from './openapi-helpers.js';

const COMMON_ERRORS = [400, 401, 403, 503] as const;
const accepted = {
  '202': jsonResponse('accepted: a job (progress and result at /admin/v1/jobs/{job_id})', 'JobAccepted'),
};
const SERVER_ID = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

/** Moves, drains and rebalances (admin API). */
export const placementPaths: Record<string, OpenApiObject> = {
  '/admin/v1/tenants/{id}/moves': {
    parameters: [ref('parameters', 'TenantId')],
    post: {
      operationId: 'moveTenant',
      tags: ['placement'],
      summary: 'Move a tenant to a shard or to a database of its own, as a job; it keeps serving',
      requestBody: jsonBody('MoveRequest'),
      responses: { ...accepted, ...errorResponses(...COMMON_ERRORS, 404, 409) },
    },
  },
  '/admin/v1/servers/{id}/drain': {
    parameters: [SERVER_ID],
    post: {
      operationId: 'drainServer',
      tags: ['placement'],
      summary:
        'Move every tenant off a server, which then takes no new placements (a job); dry run: the plan',
      requestBody: jsonBody('DrainRequest', false),
      responses: {
        '200': jsonResponse('dry run: where each tenant would go', 'DrainPlan'),
        ...accepted,
        ...errorResponses(...COMMON_ERRORS, 404),
      },
    },
  },
  '/admin/v1/rebalance': {
    post: {
      operationId: 'rebalanceShards',
      tags: ['placement'],
      summary: "Even out the shards' bytes by moving tenants (a job); dry run: the planned moves",
      requestBody: jsonBody('RebalanceRequest', false),
      responses: {
        '200': jsonResponse('dry run: the moves the run would make', 'RebalancePlan'),
        ...accepted,
        ...errorResponses(...COMMON_ERRORS),
      },
    },
  },
};

const plannedMove = {
  type: 'object',
  required: ['tenant_id', 'from', 'to', 'bytes'],
  properties: {
    tenant_id: { type: 'string' },
    from: { type: 'string', description: 'the shard it is on' },
    to: { type: 'string', description: 'the shard it would go to' },
    bytes: { type: 'integer', description: "the tenant's rows, in bytes (pg_column_size)" },
  },
};

export const placementSchemas: Record<string, OpenApiObject> = {
  MoveRequest: {
    type: 'object',
    additionalProperties: false,
    required: ['to'],
    properties: {
      to: { type: 'string', description: 'a shard id, or `dedicated`' },
      server: { type: 'string', description: 'with `dedicated`: the server (default: placement picks)' },
    },
  },
  DrainRequest: {
    type: 'object',
    additionalProperties: false,
    properties: {
      dry_run: { type: 'boolean', default: false },
      concurrency: {
        type: 'integer',
        minimum: 1,
        description: "moves at once (default 2, within the server's budget)",
      },
    },
  },
  DrainPlan: {
    type: 'object',
    required: ['server_id', 'moves', 'stuck'],
    properties: {
      server_id: { type: 'string' },
      moves: {
        type: 'array',
        items: {
          type: 'object',
          required: ['tenant_id', 'from', 'to'],
          properties: {
            tenant_id: { type: 'string' },
            from: { type: 'string' },
            to: { type: 'string', description: 'a shard id, or `dedicated`' },
            server: { type: 'string', description: 'for `dedicated`: the server' },
          },
        },
      },
      stuck: {
        type: 'array',
        description: 'tenants with nowhere to go (their region has no other server)',
        items: {
          type: 'object',
          required: ['tenant_id', 'error'],
          properties: { tenant_id: { type: 'string' }, error: { type: 'string' } },
        },
      },
    },
  },
  RebalanceRequest: {
    type: 'object',
    additionalProperties: false,
    properties: {
      dry_run: { type: 'boolean', default: false },
      max_moves: { type: 'integer', minimum: 1, default: 10 },
      min_gain_bytes: {
        type: 'integer',
        minimum: 0,
        description:
          'the least a move must narrow the gap between two shards (default: 5% of the mean shard, at least 1 MiB)',
      },
    },
  },
  RebalancePlan: {
    type: 'object',
    required: ['moves', 'min_gain_bytes'],
    properties: { moves: { type: 'array', items: plannedMove }, min_gain_bytes: { type: 'integer' } },
  },
};
