import type { Actor } from '../catalog/catalog.js';
import { InvalidFieldError, InvalidInputError, TenantplaneError } from '../errors/index.js';
import { assertSlug } from '../ids.js';
import { BACKUP_QUEUE, type BackupServices, EXPORT_QUEUE, RESTORE_QUEUE } from './backup-jobs.js';
import { completeBackup } from './backup-reader.js';
import type { RequestKind } from './backup-requests.js';
import { openObjectStore, type StoreUrlSource } from './object-store-factory.js';
import { locateTenant } from './tenant-location.js';

export interface QueuedOperation {
  queue: string;
  jobId: string;
  /** The export or backup id this request produces; for a restore, the request's id. */
  requestId: string;
  /** True when the request joined a job that was already queued or running. */
  joined: boolean;
}

const ARCHIVE_ID = /^[a-z0-9-]{1,64}$/;

export function assertArchiveId(value: unknown, what = 'backup id'): string {
  if (typeof value !== 'string' || !ARCHIVE_ID.test(value)) {
    throw new InvalidInputError(`invalid ${what}`, 'invalid_backup_id');
  }
  return value;
}

async function submit(
  backups: BackupServices,
  kind: RequestKind,
  queue: string,
  tenantId: string,
  params: Record<string, unknown>,
  options: { actor: Actor; idempotencyKey?: string | undefined },
): Promise<QueuedOperation> {
  const submitted = await backups.requests.submit({
    kind,
    queue,
    tenantId,
    params,
    actor: options.actor,
    idempotencyKey: options.idempotencyKey,
  });
  await backups.deps.catalog.audit(options.actor, `tenant.${kind}.request`, tenantId, {
    jobId: submitted.jobId,
    joined: submitted.joined,
    ...params,
  });
  return { queue, ...submitted };
}

/** An export's `--to`: the caller's input, not the service's configuration. */
const TO_URL_SOURCE: StoreUrlSource = {
  name: '--to',
  invalid: (message) => new InvalidInputError(message, 'invalid_url'),
};

/** Queues an export of the tenant to BACKUP_URL, or to `to` (a `file://` or `s3://` URL: CLI only). */
export async function requestExport(
  backups: BackupServices,
  tenantId: string,
  options: { to?: string; actor: Actor; idempotencyKey?: string | undefined },
): Promise<QueuedOperation> {
  await locateTenant(backups.deps.catalog, assertSlug(tenantId));
  // Fails now, with a message naming the URL, instead of on the worker.
  if (options.to !== undefined) {
    try {
      openObjectStore(options.to, backups.dataDir, TO_URL_SOURCE);
    } catch (error) {
      // A URL that parses but names no usable path (file:///a%2Fb) fails in node:url, not as a TenantplaneError.
      if (error instanceof TenantplaneError) throw error;
      throw TO_URL_SOURCE.invalid((error as Error).message);
    }
  }
  return submit(
    backups,
    'export',
    EXPORT_QUEUE,
    tenantId,
    options.to === undefined ? {} : { to: options.to },
    options,
  );
}

export async function requestBackup(
  backups: BackupServices,
  tenantId: string,
  options: { compress?: boolean; actor: Actor; idempotencyKey?: string | undefined },
): Promise<QueuedOperation> {
  await locateTenant(backups.deps.catalog, assertSlug(tenantId));
  return submit(
    backups,
    'backup',
    BACKUP_QUEUE,
    tenantId,
    // Written out either way, so the job does what was asked whatever a later version's default.
    { compress: options.compress ?? true },
    options,
  );
}

export async function requestRestore(
  backups: BackupServices,
  tenantId: string,
  options: {
    backupId: unknown;
    into?: unknown;
    tier?: unknown;
    actor: Actor;
    idempotencyKey?: string | undefined;
  },
): Promise<QueuedOperation> {
  assertSlug(tenantId);
  const backupId = assertArchiveId(options.backupId);
  const into = options.into === undefined ? undefined : assertSlug(options.into, 'new tenant id');
  if ((into === undefined) !== (options.tier === undefined)) {
    throw new InvalidInputError('a restore into a new tenant needs both into and tier', 'missing_field');
  }
  if (options.tier !== undefined && typeof options.tier !== 'string') {
    throw new InvalidFieldError('tier must be a string');
  }
  await completeBackup(backups.deps, tenantId, backupId);
  const params: Record<string, unknown> = { backupId };
  if (into !== undefined) Object.assign(params, { into, tier: options.tier });
  return submit(backups, 'restore', RESTORE_QUEUE, tenantId, params, options);
}
