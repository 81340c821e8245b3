import { errorResponses, jsonResponse, type OpenApiObject, ref } from './openapi-helpers.js';

const COMMON_ERRORS = [400, 401, 403, 503] as const;

const instant = (name: string, description: string): OpenApiObject => ({
  name,
  in: 'query',
  required: false,
  description: `${description}: a date (\`2026-12-01\`, midnight UTC) or a date and time with an offset`,
  schema: { type: 'string', examples: ['2026-12-01T00:00:00Z'] },
});

const RANGE: OpenApiObject[] = [
  instant('from', 'periods whose hour starts at or after this (default: a day before `to`, 30 days by day)'),
  instant('to', 'periods whose hour starts before this (default: now); at most 366 days after `from`'),
  {
    name: 'granularity',
    in: 'query',
    required: false,
    description: 'one period per hour or per day (UTC)',
    schema: { type: 'string', enum: ['hour', 'day'], default: 'hour' },
  },
];

const count = (description: string) => ({ type: 'integer', minimum: 0, description });

/** Usage metering for billing (admin API). */
export const usagePaths: Record<string, OpenApiObject> = {
  '/admin/v1/tenants/{id}/usage': {
    parameters: [ref('parameters', 'TenantId')],
    get: {
      operationId: 'getTenantUsage',
      tags: ['usage'],
      summary:
        "A tenant's metered usage per hour or day, oldest first (periods with nothing recorded left out)",
      parameters: RANGE,
      responses: {
        '200': jsonResponse('the usage', 'TenantUsageReport'),
        ...errorResponses(...COMMON_ERRORS, 404),
      },
    },
  },
  '/admin/v1/usage.csv': {
    get: {
      operationId: 'exportUsage',
      tags: ['usage'],
      summary: "Every tenant's usage, one CSV row per tenant and period, streamed, for billing systems",
      parameters: RANGE,
      responses: {
        '200': {
          description:
            'CSV (RFC 4180) with a header row: tenant_id, period_start, requests, errors, errors_4xx, errors_5xx, db_time_ms, bytes_in, bytes_out, storage_bytes, rows; an unsampled storage is an empty field',
          headers: { 'X-Request-Id': ref('headers', 'XRequestId') },
          content: { 'text/csv': { schema: { type: 'string' } } },
        },
        ...errorResponses(...COMMON_ERRORS),
      },
    },
  },
};

export const usageSchemas: Record<string, OpenApiObject> = {
  UsagePeriod: {
    type: 'object',
    required: [
      'period_start',
      'requests',
      'errors',
      'errors_4xx',
      'errors_5xx',
      'db_time_ms',
      'bytes_in',
      'bytes_out',
      'storage_bytes',
      'rows',
    ],
    properties: {
      period_start: { type: 'string', format: 'date-time' },
      requests: count('application API requests'),
      errors: count('requests answered 4xx or 5xx'),
      errors_4xx: count('requests answered 4xx'),
      errors_5xx: count('requests answered 5xx'),
      db_time_ms: count('milliseconds the requests held a tenant database connection'),
      bytes_in: count('request body bytes'),
      bytes_out: count('response body bytes'),
      storage_bytes: {
        type: ['integer', 'null'],
        description: "the period's largest storage sample; null when none was taken",
      },
      rows: { type: ['integer', 'null'], description: "the period's largest row count sample" },
    },
  },
  TenantUsageReport: {
    type: 'object',
    required: ['tenant_id', 'from', 'to', 'granularity', 'data'],
    properties: {
      tenant_id: { type: 'string' },
      from: { type: 'string', format: 'date-time' },
      to: { type: 'string', format: 'date-time' },
      granularity: { type: 'string', enum: ['hour', 'day'] },
      data: { type: 'array', items: ref('schemas', 'UsagePeriod') },
    },
  },
};
