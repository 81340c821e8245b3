import {
  emptyResponse,
  errorResponses,
  jsonBody,
  jsonResponse,
  type OpenApiObject,
  ref,
} from './openapi-helpers.js';

const COMMON_ERRORS = [400, 401, 403, 503] as const;
const TIER = { name: 'tier', in: 'path', required: true, schema: { type: 'string' } };
const BACKUP_ID = { name: 'backup_id', in: 'path', required: true, schema: { type: 'string' } };

const duration = (description: string) => ({
  type: 'string',
  pattern: '^[1-9][0-9]{0,6}[smhd]$',
  description: `${description}: a whole number and a unit s, m, h or d (\`30s\`, \`6h\`, \`1d\`), at most 366d`,
  examples: ['6h'],
});

function hold(held: boolean): OpenApiObject {
  return {
    parameters: [ref('parameters', 'TenantId'), BACKUP_ID],
    post: {
      operationId: held ? 'holdBackup' : 'releaseBackup',
      tags: ['backups'],
      summary: held
        ? 'Put a legal hold on a backup: it is never pruned (audited tenant.backup.hold)'
        : "Release a backup's legal hold (audited tenant.backup.release)",
      responses: {
        '200': jsonResponse('the backup', 'Backup'),
        ...errorResponses(...COMMON_ERRORS, 404, 409),
      },
    },
  };
}

/** Backup schedules per tier and legal holds (admin API). */
export const backupSchedulePaths: Record<string, OpenApiObject> = {
  '/admin/v1/backup-schedules': {
    get: {
      operationId: 'listBackupSchedules',
      tags: ['backups'],
      summary: 'The backup schedules, one per tier at most',
      responses: {
        '200': jsonResponse('every schedule', 'BackupScheduleList'),
        ...errorResponses(...COMMON_ERRORS),
      },
    },
  },
  '/admin/v1/backup-schedules/{tier}': {
    parameters: [TIER],
    put: {
      operationId: 'setBackupSchedule',
      tags: ['backups'],
      summary:
        "Back up every active tenant of the tier on a cadence, with the tier's retention (audited backup_schedule.set)",
      requestBody: jsonBody('BackupScheduleUpdate'),
      responses: {
        '200': jsonResponse('the schedule', 'BackupSchedule'),
        ...errorResponses(...COMMON_ERRORS, 404),
      },
    },
    delete: {
      operationId: 'clearBackupSchedule',
      tags: ['backups'],
      summary: "Stop the tier's scheduled backups; its backups stay (audited backup_schedule.clear)",
      responses: {
        '204': emptyResponse('cleared'),
        ...errorResponses(...COMMON_ERRORS, 404),
      },
    },
  },
  '/admin/v1/tenants/{id}/backups/{backup_id}/hold': hold(true),
  '/admin/v1/tenants/{id}/backups/{backup_id}/release': hold(false),
};

export const backupScheduleSchemas: Record<string, OpenApiObject> = {
  BackupScheduleUpdate: {
    type: 'object',
    additionalProperties: false,
    required: ['every', 'keep'],
    properties: {
      every: duration('cadence'),
      keep: { type: 'integer', minimum: 1, description: 'complete backups kept per tenant, newest first' },
      keep_days: {
        type: ['integer', 'null'],
        minimum: 1,
        description: 'also prune complete backups taken more than this many days ago',
      },
      drill_every: { ...duration('restore drill cadence'), type: ['string', 'null'] },
    },
  },
  BackupSchedule: {
    type: 'object',
    required: ['tier', 'every', 'every_seconds', 'keep', 'keep_days', 'drill_every', 'drill_every_seconds'],
    properties: {
      tier: { type: 'string' },
      every: { type: 'string', examples: ['6h'] },
      every_seconds: { type: 'integer' },
      keep: { type: 'integer' },
      keep_days: { type: ['integer', 'null'] },
      drill_every: { type: ['string', 'null'] },
      drill_every_seconds: { type: ['integer', 'null'] },
      updated_at: { type: 'string', format: 'date-time' },
    },
  },
  BackupScheduleList: {
    type: 'object',
    required: ['data'],
    properties: { data: { type: 'array', items: ref('schemas', 'BackupSchedule') } },
  },
};
