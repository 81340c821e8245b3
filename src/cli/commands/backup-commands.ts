import type { Command } from 'commander';
import type { BackupServices } from '../../backup/backup-jobs.js';
import {
  assertArchiveId,
  type QueuedOperation,
  requestBackup,
  requestExport,
  requestRestore,
} from '../../backup/backup-operations.js';
import { verifyBackup } from '../../backup/backup-reader.js';
import { recordedError } from '../../backup/backup-requests.js';
import { listBackupsWithDrills } from '../../backup/drills/backup-list.js';
import { assertSlug } from '../../ids.js';
import type { JobQueue } from '../../jobs/job-queue.js';
import { type CommonOptions, runCommand } from '../command-runner.js';
import { printResult, table } from '../output.js';
import { withRuntime } from '../runtime.js';
import { drillCell, registerBackupDrillCommands } from './backup-drill-commands.js';
import { registerBackupScheduleCommands } from './backup-schedule-commands.js';
import { CLI_ACTOR } from './catalog-commands.js';

interface QueueFlags extends CommonOptions {
  idempotencyKey?: string;
}

const POLL_MS = 500;

/**
 * Waits for a queued job, writing its progress to stderr as it changes. Inline (no REDIS_URL) the job runs
 * in this process; with Redis a `tenantctl worker` runs it.
 */
async function waitWithProgress(
  tp: { jobs: JobQueue; backups: BackupServices },
  queued: QueuedOperation,
): Promise<unknown> {
  process.stderr.write(
    `${queued.joined ? 'joined' : 'queued'} job ${queued.jobId}${tp.jobs.distributed ? ' (run by a tenantctl worker)' : ''}\n`,
  );
  let last = '';
  const timer = setInterval(() => {
    void tp.jobs.get(queued.queue, queued.jobId).then((job) => {
      const line = job ? `${job.state} ${JSON.stringify(job.progress)}` : '';
      if (line && line !== last) process.stderr.write(`  ${line}\n`);
      last = line;
    });
  }, POLL_MS);
  try {
    // A replay of a request that finished may find its job gone from the queue (and an inline queue never
    // has it in a new process): the outcome recorded in the catalog is the answer.
    if (!(await tp.jobs.get(queued.queue, queued.jobId))) {
      const recorded = await tp.backups.requests.jobById(queued.jobId);
      if (recorded?.state === 'completed') return recorded.result;
      if (recorded?.state === 'failed') throw recordedError(recorded);
    }
    return await tp.jobs.wait(queued.queue, queued.jobId);
  } finally {
    clearInterval(timer);
  }
}

function queueOptions(command: Command): Command {
  return command
    .option('--idempotency-key <key>', 'the same key always means the same job')
    .option('--json', 'machine-readable output');
}

/** `export`, `backup`, `backups list|verify` and `restore`: one tenant's data, as jobs. */
export function registerBackupCommands(program: Command): void {
  queueOptions(
    program
      .command('export <id>')
      .description('write the tenant’s rows as gzipped NDJSON per table with a manifest')
      .option('--to <url>', 'file:///path or s3://bucket/prefix (default: BACKUP_URL)'),
  ).action(
    runCommand(async (id: string, flags: QueueFlags & { to?: string }) => {
      await withRuntime({ serveTraffic: false }, async ({ tp }) => {
        const queued = await requestExport(tp.backups, assertSlug(id), {
          actor: CLI_ACTOR,
          idempotencyKey: flags.idempotencyKey,
          ...(flags.to === undefined ? {} : { to: flags.to }),
        });
        const result = (await waitWithProgress(tp, queued)) as { location: string; manifest_key: string };
        printResult(
          Boolean(flags.json),
          result,
          () => `exported ${id} to ${result.location} (${result.manifest_key})`,
        );
      });
    }),
  );

  queueOptions(
    program
      .command('backup <id>')
      .description('an encrypted, consistent backup of the tenant to BACKUP_URL')
      .option('--compress', 'compress the rows (zstd) before encryption: the default')
      .option('--no-compress', 'store the rows uncompressed (larger, less CPU)'),
  ).action(
    runCommand(async (id: string, flags: QueueFlags & { compress?: boolean }) => {
      await withRuntime({ serveTraffic: false }, async ({ tp }) => {
        const queued = await requestBackup(tp.backups, assertSlug(id), {
          ...(flags.compress === undefined ? {} : { compress: flags.compress }),
          actor: CLI_ACTOR,
          idempotencyKey: flags.idempotencyKey,
        });
        const result = (await waitWithProgress(tp, queued)) as { id: string; size_bytes: number };
        printResult(
          Boolean(flags.json),
          result,
          () => `backup ${result.id} of ${id}: ${result.size_bytes} bytes`,
        );
      });
    }),
  );

  const backups = program
    .command('backups')
    .description('list and verify a tenant’s backups; schedules, retention and legal holds');
  registerBackupScheduleCommands(backups);
  backups
    .command('list <id>')
    .description('the tenant’s backups, newest first (only complete ones can be restored)')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (id: string, flags: CommonOptions) => {
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          const tenant = await tp.catalog.requireTenant(assertSlug(id));
          const list = await listBackupsWithDrills(tp.backups, tenant.id);
          printResult(Boolean(flags.json), list, () =>
            table(
              list.map((backup) => ({
                id: backup.id,
                state: backup.state,
                bytes: backup.size_bytes ?? '-',
                schema: backup.schema_version ?? '-',
                created: backup.created_at.toISOString(),
                held: backup.held ? 'held' : '',
                error: backup.error ?? '',
                last_drill: drillCell(backup.last_drill),
              })),
            ),
          );
        });
      }),
    );
  backups
    .command('verify <id> <backup-id>')
    .description('decrypt and check the whole backup (keys, frames, row counts, digest) without writing')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (id: string, backupId: string, flags: CommonOptions) => {
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          const verified = await verifyBackup(tp.backups.deps, assertSlug(id), assertArchiveId(backupId));
          const result = {
            backup_id: verified.backup.id,
            tenant_id: verified.backup.tenantId,
            ok: true,
            schema_version: verified.header.schemaVersion,
            tables: verified.tables,
          };
          printResult(
            Boolean(flags.json),
            result,
            () => `backup ${backupId} of ${id} is intact: ${JSON.stringify(verified.tables)}`,
          );
        });
      }),
    );

  registerBackupDrillCommands(backups);

  queueOptions(
    program
      .command('restore <id>')
      .description('replace the tenant’s rows with a backup, or restore it into a new tenant')
      .requiredOption('--backup <backup-id>', 'the backup to restore')
      .option('--into <new-id>', 'create this tenant and restore into it')
      .option('--tier <tier>', 'the new tenant’s tier (with --into)'),
  ).action(
    runCommand(async (id: string, flags: QueueFlags & { backup: string; into?: string; tier?: string }) => {
      await withRuntime({ serveTraffic: false }, async ({ tp }) => {
        const queued = await requestRestore(tp.backups, assertSlug(id), {
          backupId: flags.backup,
          into: flags.into,
          tier: flags.tier,
          actor: CLI_ACTOR,
          idempotencyKey: flags.idempotencyKey,
        });
        const result = (await waitWithProgress(tp, queued)) as { restored_into: string };
        printResult(
          Boolean(flags.json),
          result,
          () => `restored backup ${flags.backup} into ${result.restored_into}`,
        );
      });
    }),
  );
}
