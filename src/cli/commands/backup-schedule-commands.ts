import type { Command } from 'commander';
import { backupView } from '../../backup/backup-jobs.js';
import { assertArchiveId } from '../../backup/backup-operations.js';
import { pruneBackups } from '../../backup/retention/backup-retention.js';
import { setBackupHold } from '../../backup/retention/legal-holds.js';
import { scheduleView } from '../../backup/schedules/backup-schedules.js';
import { parseDuration } from '../../backup/schedules/duration.js';
import { InvalidInputError } from '../../errors/index.js';
import { assertSlug } from '../../ids.js';
import { type CommonOptions, runCommand } from '../command-runner.js';
import { printResult, table } from '../output.js';
import { withRuntime } from '../runtime.js';
import { CLI_ACTOR } from './catalog-commands.js';

/** A whole number from 1 for `flag`, or 400 `invalid_field` (exit 2). */
function count(value: string, flag: string): number {
  if (!/^[1-9]\d{0,5}$/.test(value)) {
    throw new InvalidInputError(`${flag} must be a whole number from 1`, 'invalid_field');
  }
  return Number(value);
}

type ScheduleFlags = CommonOptions & {
  tier: string;
  every: string;
  keep: string;
  keepDays?: string;
  drillEvery?: string;
};

/** `backups schedule set|list|clear`, `backups prune`, `backups hold|release`: under `tenantctl backups`. */
export function registerBackupScheduleCommands(backups: Command): void {
  const schedule = backups.command('schedule').description('backup schedules per tier, with their retention');
  schedule
    .command('set')
    .description('back up every active tenant of the tier on this cadence, keeping the newest N')
    .requiredOption('--tier <tier>', 'the tier')
    .requiredOption('--every <duration>', 'cadence: 30s, 15m, 6h, 1d')
    .requiredOption('--keep <n>', 'complete backups kept per tenant (the newest is never pruned)')
    .option('--keep-days <days>', 'also prune complete backups older than this')
    .option('--drill-every <duration>', 'restore drill cadence')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (flags: ScheduleFlags) => {
        const input = {
          tier: flags.tier,
          everySeconds: parseDuration(flags.every, '--every'),
          keepCount: count(flags.keep, '--keep'),
          keepDays: flags.keepDays === undefined ? null : count(flags.keepDays, '--keep-days'),
          drillEverySeconds:
            flags.drillEvery === undefined ? null : parseDuration(flags.drillEvery, '--drill-every'),
        };
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          const view = scheduleView(await tp.backups.schedules.set(input, CLI_ACTOR));
          printResult(Boolean(flags.json), view, () => describe(view));
        });
      }),
    );
  schedule
    .command('list')
    .description('the backup schedules')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (flags: CommonOptions) => {
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          const views = (await tp.backups.schedules.list()).map(scheduleView);
          printResult(Boolean(flags.json), views, () =>
            table(
              views.map((view) => ({
                tier: view.tier,
                every: view.every,
                keep: view.keep,
                keep_days: view.keep_days ?? '-',
                drill_every: view.drill_every ?? '-',
              })),
            ),
          );
        });
      }),
    );
  schedule
    .command('clear')
    .description('stop backing the tier up on a schedule (its backups stay)')
    .requiredOption('--tier <tier>', 'the tier')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (flags: CommonOptions & { tier: string }) => {
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          const view = scheduleView(await tp.backups.schedules.clear(flags.tier, CLI_ACTOR));
          printResult(Boolean(flags.json), view, () => `tier ${view.tier}: schedule cleared`);
        });
      }),
    );

  backups
    .command('prune')
    .description('apply each scheduled tier’s retention now: delete the expired backups')
    .option('--dry-run', 'list what would be deleted, delete nothing')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (flags: CommonOptions & { dryRun?: boolean }) => {
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          const { deps } = tp.backups;
          const result = await pruneBackups(
            { knex: tp.knex, store: deps.store, logger: deps.logger },
            { dryRun: Boolean(flags.dryRun), actor: CLI_ACTOR },
          );
          const rows = (list: typeof result.pruned) =>
            list.map((backup) => ({
              tenant_id: backup.tenantId,
              backup_id: backup.backupId,
              created_at: backup.createdAt,
              reason: backup.reason,
            }));
          const view = {
            dry_run: result.dryRun,
            [result.dryRun ? 'would_delete' : 'deleted']: rows(result.pruned),
            failed: result.failed.map((backup) => ({ ...rows([backup])[0], error: backup.error })),
          };
          printResult(Boolean(flags.json), view, () =>
            [
              `${result.dryRun ? 'would delete' : 'deleted'} ${result.pruned.length} backup(s)`,
              ...(result.pruned.length > 0 ? [table(rows(result.pruned))] : []),
              ...(result.failed.length > 0 ? [`failed (retried next prune): ${result.failed.length}`] : []),
            ].join('\n'),
          );
          if (result.failed.length > 0) process.exitCode = 1;
        });
      }),
    );

  for (const [name, held] of [
    ['hold', true],
    ['release', false],
  ] as const) {
    backups
      .command(`${name} <id> <backup-id>`)
      .description(held ? 'put a legal hold on a backup: it is never pruned' : 'release a legal hold')
      .option('--json', 'machine-readable output')
      .action(
        runCommand(async (id: string, backupId: string, flags: CommonOptions) => {
          await withRuntime({ serveTraffic: false }, async ({ tp }) => {
            const backup = await setBackupHold(
              tp.backups.deps,
              assertSlug(id),
              assertArchiveId(backupId),
              held,
              CLI_ACTOR,
            );
            printResult(
              Boolean(flags.json),
              backupView(backup),
              () => `backup ${backupId} of ${id}: ${held ? 'held' : 'released'}`,
            );
          });
        }),
      );
  }
}

function describe(view: ReturnType<typeof scheduleView>): string {
  const age = view.keep_days === null ? '' : `, none older than ${view.keep_days} days`;
  const drill = view.drill_every === null ? '' : `; a restore drill every ${view.drill_every}`;
  return `tier ${view.tier}: a backup every ${view.every}, keeping the newest ${view.keep}${age}${drill}`;
}
