import { errorResponses, jsonResponse, type OpenApiObject, ref } from './openapi-helpers.js';

const BACKUP_ID = { name: 'backup_id', in: 'path', required: true, schema: { type: 'string' } };
const timestampOrNull = { type: ['string', 'null'], format: 'date-time' };

/** Restore drills (admin API). */
export const backupDrillPaths: Record<string, OpenApiObject> = {
  '/admin/v1/tenants/{id}/backups/{backup_id}/drills': {
    parameters: [ref('parameters', 'TenantId'), BACKUP_ID],
    post: {
      operationId: 'drillBackup',
      tags: ['backups'],
      summary:
        "Restore a backup into a scratch database and check it against its manifest, as a job (the job's result is the drill)",
      description:
        "The job's result is the drill: `id`, `backup_id`, `tenant_id`, `passed`, `started_at`, `finished_at`, `duration_ms`, `method` (`counts_and_digests`, or `counts` for a backup recorded before table digests), `error`, and `details` (per table the rows and digest expected and found; `timings_ms` per phase: migrate, load, check, drop, total; `scratch_database` and `scratch_dropped`). The scratch database is always dropped. The drill is recorded (a failed one with the reason) and shows as `last_drill` in the backup list; audited `tenant.backup.drill`.",
      responses: {
        '202': jsonResponse('accepted: a job', 'DrillAccepted'),
        ...errorResponses(400, 401, 403, 404, 409, 503),
      },
    },
  },
};

export const backupDrillSchemas: Record<string, OpenApiObject> = {
  DrillAccepted: {
    allOf: [
      ref('schemas', 'JobAccepted'),
      {
        type: 'object',
        required: ['backup_id'],
        properties: { backup_id: { type: 'string', description: 'the backup being drilled' } },
      },
    ],
  },
  LastDrill: {
    type: ['object', 'null'],
    description: "the backup's last finished restore drill; null if it was never drilled",
    required: ['id', 'passed', 'finished_at', 'duration_ms', 'method', 'error'],
    properties: {
      id: { type: 'string' },
      passed: { type: ['boolean', 'null'] },
      finished_at: timestampOrNull,
      duration_ms: { type: ['integer', 'null'], description: 'the whole drill, scratch database included' },
      method: {
        enum: ['counts_and_digests', 'counts', null],
        description: '`counts`: a backup recorded before table digests, checked by row counts only',
      },
      error: { type: ['string', 'null'], description: 'why it failed' },
    },
  },
};
