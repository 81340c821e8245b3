import { errorResponses, jsonResponse, type OpenApiObject, ref } from './openapi-helpers.js';

const COMMON_ERRORS = [400, 401, 403, 503] as const;
const count = (description: string) => ({ type: 'integer', minimum: 0, description });

const instant = (name: string, description: string): OpenApiObject => ({
  name,
  in: 'query',
  required: false,
  description: `${description}: a date (\`2026-12-01\`, midnight UTC) or a date and time with an offset`,
  schema: { type: 'string', examples: ['2026-12-01T00:00:00Z'] },
});

/** The Fleet page's health (admin API): traffic per tier and hour, overdue backups. */
export const usageTierPaths: Record<string, OpenApiObject> = {
  '/admin/v1/usage/tiers': {
    get: {
      operationId: 'getTierUsage',
      tags: ['usage'],
      summary:
        'Requests, 4xx and 5xx per tier and hour, oldest first (each tenant under its current tier; hours with nothing recorded left out)',
      parameters: [
        instant('from', 'hours starting at or after this (default: a day before `to`)'),
        instant('to', 'hours starting before this (default: now); at most 366 days after `from`'),
      ],
      responses: {
        '200': jsonResponse('the traffic per tier and hour', 'TierUsageReport'),
        ...errorResponses(...COMMON_ERRORS),
      },
    },
  },
  '/admin/v1/fleet/backups-overdue': {
    get: {
      operationId: 'listOverdueBackups',
      tags: ['backups'],
      summary:
        "Tenants of scheduled tiers whose newest complete backup is older than 1.5 times their tier's cadence (or who have none)",
      responses: {
        '200': jsonResponse('every overdue tenant, the longest overdue first', 'OverdueBackupList'),
        ...errorResponses(...COMMON_ERRORS),
      },
    },
  },
};

export const usageTierSchemas: Record<string, OpenApiObject> = {
  TierHourUsage: {
    type: 'object',
    required: ['tier', 'period_start', 'requests', 'errors_4xx', 'errors_5xx'],
    properties: {
      tier: { type: 'string' },
      period_start: { type: 'string', format: 'date-time' },
      requests: count('application API requests'),
      errors_4xx: count('requests answered 4xx'),
      errors_5xx: count('requests answered 5xx'),
    },
  },
  TierUsageReport: {
    type: 'object',
    required: ['from', 'to', 'data'],
    properties: {
      from: { type: 'string', format: 'date-time' },
      to: { type: 'string', format: 'date-time' },
      data: { type: 'array', items: ref('schemas', 'TierHourUsage') },
    },
  },
  OverdueBackup: {
    type: 'object',
    required: ['tenant_id', 'tier', 'last_backup_at', 'age_seconds', 'every_seconds'],
    properties: {
      tenant_id: { type: 'string' },
      tier: { type: 'string' },
      last_backup_at: { type: ['string', 'null'], format: 'date-time', description: 'null: no backup yet' },
      age_seconds: { type: ['number', 'null'], description: 'seconds since the newest complete backup' },
      every_seconds: count("the tier's backup cadence"),
    },
  },
  OverdueBackupList: {
    type: 'object',
    required: ['data'],
    properties: { data: { type: 'array', items: ref('schemas', 'OverdueBackup') } },
  },
};
