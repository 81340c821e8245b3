import { errorResponses, jsonResponse, type OpenApiObject, ref } from './openapi-helpers.js';

const COMMON_ERRORS = [400, 401, 403, 503] as const;
const count = { type: 'integer', minimum: 0 };

/** The fleet at a glance (admin API), for the operator console's Fleet page. */
export const fleetPaths: Record<string, OpenApiObject> = {
  '/admin/v1/fleet/servers': {
    get: {
      operationId: 'listFleetServers',
      tags: ['servers'],
      summary:
        'Servers with their placements, how their connection budget is divided among instances and what each holds',
      responses: {
        '200': jsonResponse('every server', 'FleetServerList'),
        ...errorResponses(...COMMON_ERRORS),
      },
    },
  },
  '/admin/v1/fleet/shards': {
    get: {
      operationId: 'listFleetShards',
      tags: ['servers'],
      summary: 'Shards with their tenants and bytes as last measured',
      responses: {
        '200': jsonResponse('every shard', 'FleetShardList'),
        ...errorResponses(...COMMON_ERRORS),
      },
    },
  },
};

export const fleetSchemas: Record<string, OpenApiObject> = {
  FleetServer: {
    type: 'object',
    required: [
      'id',
      'region',
      'draining',
      'max_connections',
      'router_budget',
      'router_budget_assigned',
      'connections_in_use',
      'connections_idle',
      'instances',
      'shards',
      'dedicated_databases',
      'tenants',
    ],
    properties: {
      id: { type: 'string' },
      region: { type: ['string', 'null'] },
      draining: { type: 'boolean' },
      max_connections: { ...count, description: "the server's connection budget" },
      router_budget: { ...count, description: 'what all instances’ routers together may hold on it' },
      router_budget_assigned: { ...count, description: 'the sum of the live instances’ parts of it' },
      connections_in_use: {
        ...count,
        description: 'router connections in use on it: the sum over live instances at their last heartbeat',
      },
      connections_idle: {
        ...count,
        description:
          'router connections open and idle on it: the sum over live instances at their last heartbeat',
      },
      instances: {
        type: 'array',
        description: 'each live serve and worker process, the connections its routers may hold here and hold',
        items: {
          type: 'object',
          required: ['instance_id', 'kind', 'host', 'may_hold', 'in_use', 'idle'],
          properties: {
            instance_id: { type: 'string', format: 'uuid' },
            kind: { enum: ['serve', 'worker'] },
            host: { type: 'string' },
            may_hold: count,
            in_use: { ...count, description: 'its router connections in use here at its last heartbeat' },
            idle: {
              ...count,
              description: 'its router connections open and idle here at its last heartbeat',
            },
          },
        },
      },
      shards: count,
      dedicated_databases: count,
      tenants: { ...count, description: 'live tenants on its shards and dedicated databases' },
    },
  },
  FleetServerList: {
    type: 'object',
    required: ['data'],
    properties: { data: { type: 'array', items: ref('schemas', 'FleetServer') } },
  },
  FleetShard: {
    type: 'object',
    required: ['id', 'server_id', 'status', 'tenants', 'bytes'],
    properties: {
      id: { type: 'string' },
      server_id: { type: 'string' },
      status: { enum: ['creating', 'ready', 'dropping'] },
      tenants: count,
      bytes: {
        ...count,
        description: "its tenants' rows as a rebalance last measured them (0: none measured)",
      },
    },
  },
  FleetShardList: {
    type: 'object',
    required: ['data'],
    properties: { data: { type: 'array', items: ref('schemas', 'FleetShard') } },
  },
};
