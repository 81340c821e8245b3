import { errorResponses, jsonResponse, type OpenApiObject, ref } from './openapi-helpers.js';

const COMMON_ERRORS = [400, 401, 403, 503] as const;
const LISTED_STATES = ['waiting', 'active', 'completed', 'failed', 'delayed'];

/** The job list (admin API), for the operator console's Jobs page. */
export const jobsPaths: Record<string, OpenApiObject> = {
  '/admin/v1/jobs': {
    get: {
      operationId: 'listJobs',
      tags: ['jobs'],
      summary: 'The jobs the queues hold, newest first, a page at a time',
      parameters: [
        {
          name: 'queue',
          in: 'query',
          schema: { type: 'string' },
          description: 'only this queue (such as tenant-move, tenant-backup, migration-run)',
        },
        { name: 'state', in: 'query', schema: { enum: LISTED_STATES }, description: 'only this state' },
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
        ref('parameters', 'Cursor'),
      ],
      responses: { '200': jsonResponse('a page', 'JobPage'), ...errorResponses(...COMMON_ERRORS) },
    },
  },
};

const timestamp = { type: 'string', format: 'date-time' };

export const jobsSchemas: Record<string, OpenApiObject> = {
  ListedJob: {
    type: 'object',
    required: [
      'id',
      'queue',
      'state',
      'progress',
      'tenant_id',
      'created_at',
      'finished_at',
      'error',
      'error_code',
    ],
    properties: {
      id: { type: 'string', description: 'its status at /admin/v1/jobs/{job_id}' },
      queue: { type: 'string' },
      state: { enum: [...LISTED_STATES, 'unknown'] },
      progress: { description: 'a percentage or a JSON object, as the job reports it' },
      tenant_id: { type: ['string', 'null'], description: 'the tenant the job works on, if it has one' },
      created_at: timestamp,
      finished_at: { ...timestamp, type: ['string', 'null'], description: 'once completed or failed' },
      error: { type: ['string', 'null'], description: 'the last attempt’s error message' },
      error_code: {
        type: ['string', 'null'],
        description: 'for a failed export, backup or restore: the code of its error',
      },
    },
  },
  JobPage: {
    type: 'object',
    required: ['data', 'next_cursor'],
    properties: {
      data: { type: 'array', items: ref('schemas', 'ListedJob') },
      next_cursor: { type: ['string', 'null'], description: 'null on the last page' },
    },
  },
};
