import type { Command } from 'commander';
import type { Catalog } from '../../catalog/catalog.js';
import { InvalidInputError } from '../../errors/index.js';
import type { FleetMigrations } from '../../migrations/fleet-migrations.js';
import type { FleetRunResult } from '../../migrations/fleet-runner.js';
import { ProgressReporter } from '../../migrations/progress-reporter.js';
import { type CommonOptions, EXIT_FAILED, runCommand } from '../command-runner.js';
import { printResult, table } from '../output.js';
import { withRuntime } from '../runtime.js';
import { CLI_ACTOR } from './catalog-commands.js';

interface RunFlags extends CommonOptions {
  concurrency?: string;
  canary?: string;
  target?: string;
  dryRun?: boolean;
  to?: string;
  lockTimeout?: string;
  distributed?: boolean;
}

function count(raw: string | undefined, flag: string, min: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min)
    throw new InvalidInputError(`${flag} must be an integer ≥ ${min}`);
  return Number(raw);
}

function summary(result: FleetRunResult, dryRun: boolean): string {
  const by = (status: string) => result.targets.filter((target) => target.status === status).length;
  const lines = [
    dryRun
      ? `dry run: ${result.targets.filter((target) => target.planned.length > 0).length} of ${result.targets.length} database(s) have pending migrations`
      : `run ${result.runId}: ${result.status} — ${by('succeeded')} migrated, ${by('skipped')} already up to date or skipped, ${by('failed')} failed (concurrency ${result.concurrency})`,
  ];
  if (dryRun) {
    for (const target of result.targets) {
      lines.push(
        `  ${target.databaseId}: ${target.planned.length > 0 ? target.planned.join(', ') : 'up to date'}`,
      );
    }
  }
  for (const failed of result.failed)
    lines.push(`  FAILED ${failed.databaseId} (${failed.databaseName}): ${failed.error}`);
  return lines.join('\n');
}

async function runFleet(
  tp: { migrations: FleetMigrations; catalog: Pick<Catalog, 'audit'> },
  direction: 'up' | 'down',
  flags: RunFlags,
): Promise<void> {
  const concurrency = count(flags.concurrency, '--concurrency', 1);
  const canary = count(flags.canary, '--canary', 0);
  const lockTimeoutMs = count(flags.lockTimeout, '--lock-timeout', 0);
  const runner = await tp.migrations.runner({ distributed: Boolean(flags.distributed) });
  const reporter = ProgressReporter.for(process.stdout, Boolean(flags.json));
  runner.on('event', reporter.handle);
  let result: FleetRunResult;
  try {
    result = await runner.run({
      direction,
      actor: CLI_ACTOR.actor,
      dryRun: Boolean(flags.dryRun),
      ...(flags.to === undefined ? {} : { to: flags.to }),
      ...(flags.target === undefined ? {} : { target: flags.target }),
      ...(concurrency === undefined ? {} : { concurrency }),
      ...(canary === undefined ? {} : { canary }),
      ...(lockTimeoutMs === undefined ? {} : { lockTimeoutMs }),
    });
  } finally {
    reporter.finish();
  }
  if (!flags.dryRun) {
    await tp.catalog.audit(CLI_ACTOR, 'migration.run', null, {
      direction,
      runId: result.runId,
      status: result.status,
      failed: result.failed.map((failed) => failed.databaseId),
      ...(flags.to === undefined ? {} : { to: flags.to }),
      ...(flags.target === undefined ? {} : { target: flags.target }),
    });
  }
  printResult(Boolean(flags.json), result, () => summary(result, Boolean(flags.dryRun)));
  if (result.status !== 'succeeded') process.exitCode = EXIT_FAILED;
}

function runOptions(command: Command): Command {
  return command
    .option('--concurrency <n>', 'databases migrated at once (default: from the servers’ connection budgets)')
    .option('--canary <n>', 'migrate this many databases first; stop if any of them fails')
    .option(
      '--target <database>',
      'only this database (catalog id such as shard-1 or tenant:acme, or its name)',
    )
    .option('--dry-run', 'list pending migrations per database and change nothing')
    .option('--lock-timeout <ms>', 'wait this long for another runner’s lock on a database', '30000')
    .option('--distributed', 'spread the databases over `tenantctl worker` processes (needs REDIS_URL)')
    .option('--json', 'machine-readable output');
}

/** `migrate status|up|down`: fleet-wide tenant schema migrations. */
export function registerMigrateCommands(program: Command): void {
  const migrate = program
    .command('migrate')
    .description('tenant schema migrations across every shard and dedicated database');

  migrate
    .command('status')
    .description('applied, pending and drifted migrations per database, with each one’s last run')
    .option('--check', 'exit 1 when any database has drifted, is unreachable or has pending migrations')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (flags: CommonOptions & { check?: boolean }) => {
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          const statuses = await tp.migrations.status();
          printResult(Boolean(flags.json), statuses, () =>
            table(
              statuses.map((status) => ({
                database: status.databaseId,
                applied: status.applied.length,
                pending: status.pending.join(',') || '-',
                drift: status.drift
                  ? `unknown:${status.unknown.join(',') || '-'} missing:${status.missing.join(',') || '-'}`
                  : '-',
                last_run: status.lastRun
                  ? `${status.lastRun.status}${status.lastRun.error ? `: ${status.lastRun.error}` : ''}`
                  : '-',
                reachable: status.reachable ? 'yes' : `no: ${status.error}`,
              })),
            ),
          );
          const unhealthy = statuses.some(
            (status) => status.drift || !status.reachable || status.pending.length > 0,
          );
          if (flags.check && unhealthy) process.exitCode = EXIT_FAILED;
        });
      }),
    );

  runOptions(
    migrate.command('up').description('apply pending migrations to every database (or --target)'),
  ).action(
    runCommand(async (flags: RunFlags) => {
      await withRuntime({ serveTraffic: false }, ({ tp }) => runFleet(tp, 'up', flags));
    }),
  );

  runOptions(
    migrate
      .command('down')
      .description('roll every database back until <migration> is the latest applied (0: roll back all)')
      .requiredOption('--to <migration>', 'migration to roll back to'),
  ).action(
    runCommand(async (flags: RunFlags) => {
      await withRuntime({ serveTraffic: false }, ({ tp }) => runFleet(tp, 'down', flags));
    }),
  );
}
