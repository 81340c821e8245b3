import type { Command } from 'commander';
import type { DrillView } from '../../backup/drills/backup-drills.js';
import type { lastDrillView } from '../../backup/drills/backup-list.js';
import { requestDrill } from '../../backup/drills/drill-jobs.js';
import { BackupHealth } from '../../backup/monitoring/backup-health.js';
import { assertSlug } from '../../ids.js';
import { type CommonOptions, EXIT_FAILED, runCommand } from '../command-runner.js';
import { printResult, table } from '../output.js';
import { withRuntime } from '../runtime.js';
import { CLI_ACTOR } from './catalog-commands.js';

/** How `backups list` shows a backup's last drill in its table. */
export function drillCell(drill: ReturnType<typeof lastDrillView>): string {
  if (!drill) return '-';
  const when = drill.finished_at ? drill.finished_at.toISOString() : '';
  const took = drill.duration_ms === null ? '' : ` ${(drill.duration_ms / 1000).toFixed(1)}s`;
  return `${drill.passed ? 'passed' : 'FAILED'} ${when}${took}`;
}

/** `backups drill` and `backups status`: restore drills, and what cron and CI check. */
export function registerBackupDrillCommands(backups: Command): void {
  backups
    .command('drill <id> [backup-id]')
    .description(
      'restore a backup (default: the newest complete one) into a scratch database and check it against its manifest; exit 1 when it fails',
    )
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (id: string, backupId: string | undefined, flags: CommonOptions) => {
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          const queued = await requestDrill(tp, assertSlug(id), {
            ...(backupId === undefined ? {} : { backupId }),
            actor: CLI_ACTOR,
          });
          process.stderr.write(
            `queued job ${queued.jobId}${tp.jobs.distributed ? ' (run by a tenantctl worker)' : ''}\n`,
          );
          const drill = (await tp.jobs.wait(queued.queue, queued.jobId)) as DrillView;
          printResult(Boolean(flags.json), drill, () => describeDrill(id, drill));
          if (!drill.passed) process.exitCode = EXIT_FAILED;
        });
      }),
    );

  backups
    .command('status')
    .description('tenants whose backups are overdue and tenants whose last drill failed; exit 1 when any')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (flags: CommonOptions) => {
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          const health = new BackupHealth(tp.catalog.knex);
          const overdue = await health.overdueTenants();
          const failed = await health.failedDrills();
          const ok = overdue.length === 0 && failed.length === 0;
          printResult(Boolean(flags.json), { ok, overdue, failed_drills: failed }, () =>
            [
              `overdue backups: ${overdue.length}`,
              ...(overdue.length === 0
                ? []
                : [
                    table(
                      overdue.map((tenant) => ({
                        tenant: tenant.tenant_id,
                        tier: tenant.tier,
                        last_backup: tenant.last_backup_at?.toISOString() ?? 'never',
                        age: tenant.age_seconds === null ? '-' : `${Math.round(tenant.age_seconds)}s`,
                        every: `${tenant.every_seconds}s`,
                      })),
                    ),
                  ]),
              `failed drills: ${failed.length}`,
              ...(failed.length === 0
                ? []
                : [
                    table(
                      failed.map((drill) => ({
                        tenant: drill.tenant_id,
                        backup: drill.backup_id,
                        finished: drill.finished_at.toISOString(),
                        error: drill.error ?? '',
                      })),
                    ),
                  ]),
            ].join('\n'),
          );
          if (!ok) process.exitCode = EXIT_FAILED;
        });
      }),
    );
}

function describeDrill(tenantId: string, drill: DrillView): string {
  const checked =
    drill.method === 'counts' ? 'row counts only (no digests recorded)' : 'row counts and digests';
  const took = drill.duration_ms === null ? '' : ` in ${(drill.duration_ms / 1000).toFixed(1)} s`;
  const head = `drill ${drill.id} of backup ${drill.backup_id} of ${tenantId}: ${drill.passed ? 'passed' : 'FAILED'}${took}, ${checked}`;
  return drill.error ? `${head}\n  ${drill.error}` : head;
}
