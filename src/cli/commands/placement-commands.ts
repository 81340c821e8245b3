import type { Command } from 'commander';
import { InvalidInputError } from '../../errors/index.js';
import { assertSlug } from '../../ids.js';
import { waitWithProgress } from '../../jobs/job-progress.js';
import { parseMoveDestination } from '../../moves/move-destination.js';
import { requestMove } from '../../moves/move-jobs.js';
import { describeMoveProgress, waitForMove } from '../../moves/move-progress.js';
import {
  requestDrain,
  requestRebalance,
  SERVER_DRAIN_QUEUE,
  SHARD_REBALANCE_QUEUE,
} from '../../placement/placement-jobs.js';
import type { DrainProgress, DrainResult } from '../../placement/server-drain.js';
import { planDrain } from '../../placement/server-drain.js';
import {
  planShardRebalance,
  type RebalanceProgress,
  type RebalanceRequest,
  type RebalanceResult,
} from '../../placement/shard-rebalance.js';
import { type CommonOptions, EXIT_FAILED, runCommand } from '../command-runner.js';
import { printResult, table } from '../output.js';
import { ProgressBar } from '../progress-bar.js';
import { withRuntime } from '../runtime.js';
import { CLI_ACTOR } from './catalog-commands.js';

function positiveInteger(value: string | undefined, flag: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value) || Number(value) < min) {
    throw new InvalidInputError(`${flag} must be an integer ≥ ${min}`, 'invalid_input');
  }
  return Number(value);
}

/** `tenants move <id> --to <shard-id>|dedicated [--server <id>]`. */
export function registerTenantMoveCommand(tenants: Command): void {
  tenants
    .command('move <id>')
    .description('move a tenant to a shard or to a database of its own while it keeps serving')
    .requiredOption('--to <placement>', 'a shard id, or `dedicated`')
    .option('--server <id>', 'with --to dedicated: the server for its database (default: placement picks)')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (id: string, options: CommonOptions & { to: string; server?: string }) => {
        assertSlug(id);
        const destination = parseMoveDestination(options.to, options.server);
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          const deps = { ...tp, databasePrefix: tp.config.databasePrefix };
          const jobId = await requestMove(deps, id, destination, CLI_ACTOR);
          if (!options.json) process.stdout.write(`moving ${id} (job ${jobId})\n`);
          const move = await waitForMove(tp.jobs, jobId, (progress) => {
            if (!options.json) process.stdout.write(`  ${describeMoveProgress(progress)}\n`);
          });
          const summary = {
            tenant_id: id,
            from: move.from.database_id,
            to: move.to.database_id,
            rows_copied: move.rows_copied,
            pause_ms: move.pause_ms,
            duration_ms: move.duration_ms,
          };
          printResult(Boolean(options.json), summary, () =>
            move.moved
              ? `tenant ${id} moved from ${summary.from} to ${summary.to}: ${move.rows_copied} rows copied, writes paused ${move.pause_ms} ms, ${move.duration_ms} ms in all`
              : `tenant ${id} is in ${summary.from} already; nothing to move`,
          );
        });
      }),
    );
}

/** `servers drain <id> [--dry-run]`: every tenant off the server, which then takes no new placements. */
export function registerServerDrainCommand(servers: Command): void {
  servers
    .command('drain <id>')
    .description('move every tenant off a server, which takes no new placements until `undrain`')
    .option('--dry-run', 'print where each tenant would go and change nothing')
    .option('--concurrency <n>', 'moves at once (default 2, within the server’s connection budget)')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (id: string, options: CommonOptions & { dryRun?: boolean; concurrency?: string }) => {
        assertSlug(id, 'server id');
        const concurrency = positiveInteger(options.concurrency, '--concurrency');
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          if (options.dryRun) {
            const plan = await planDrain(tp, id);
            printResult(Boolean(options.json), { server_id: id, moves: plan.steps, stuck: plan.stuck }, () =>
              [
                table(plan.steps.map((step) => ({ ...step, server: step.server ?? '' }))),
                ...plan.stuck.map((stuck) => `cannot move ${stuck.tenant_id}: ${stuck.error}`),
              ].join('\n'),
            );
            return;
          }
          const jobId = await requestDrain(tp, id, CLI_ACTOR, concurrency ? { concurrency } : {});
          if (!options.json) process.stdout.write(`draining ${id} (job ${jobId})\n`);
          const bar = new ProgressBar();
          const result = (await waitWithProgress(
            tp.jobs,
            SERVER_DRAIN_QUEUE,
            jobId,
            (progress: DrainProgress) => {
              if (options.json || progress.total === undefined) return;
              const moving = progress.moving?.length
                ? `moving ${progress.moving.join(', ')}`
                : progress.phase;
              bar.update(progress.done ?? 0, progress.total, moving);
            },
          )) as DrainResult;
          bar.done();
          printResult(Boolean(options.json), result, () =>
            [
              `server ${id}: ${result.moved} tenant(s) moved off, ${result.remaining} left; it takes no new placements until \`tenantctl servers undrain ${id}\``,
              ...result.failed.map((failure) => `  ${failure.tenant_id} did not move: ${failure.error}`),
            ].join('\n'),
          );
          if (result.remaining > 0) process.exitCode = EXIT_FAILED;
        });
      }),
    );
}

/** `shards rebalance [--dry-run] [--max-moves N]`: evens out the shards' bytes. */
export function registerRebalanceCommand(shards: Command): void {
  shards
    .command('rebalance')
    .description('even out the shards’ sizes (bytes measured per tenant) by moving tenants between them')
    .option('--dry-run', 'print the planned moves and change nothing')
    .option('--max-moves <n>', 'most moves (default 10)')
    .option(
      '--min-gain-bytes <n>',
      'the least a move must narrow the gap between two shards (default: 5% of the mean shard, at least 1 MiB)',
    )
    .option('--json', 'machine-readable output')
    .action(
      runCommand(
        async (options: CommonOptions & { dryRun?: boolean; maxMoves?: string; minGainBytes?: string }) => {
          const request: RebalanceRequest = {};
          const maxMoves = positiveInteger(options.maxMoves, '--max-moves');
          const minGain = positiveInteger(options.minGainBytes, '--min-gain-bytes', 0);
          if (maxMoves !== undefined) request.maxMoves = maxMoves;
          if (minGain !== undefined) request.minGainBytes = minGain;
          await withRuntime({ serveTraffic: false }, async ({ tp }) => {
            if (options.dryRun) {
              const plan = await planShardRebalance(tp.catalog, request);
              printResult(Boolean(options.json), plan, () =>
                table(plan.moves as unknown as Array<Record<string, unknown>>),
              );
              return;
            }
            const jobId = await requestRebalance(tp, request, CLI_ACTOR);
            if (!options.json) process.stdout.write(`rebalancing shards (job ${jobId})\n`);
            const bar = new ProgressBar();
            const result = (await waitWithProgress(
              tp.jobs,
              SHARD_REBALANCE_QUEUE,
              jobId,
              (progress: RebalanceProgress) => {
                if (options.json || progress.planned === undefined) return;
                bar.update(
                  progress.done ?? 0,
                  progress.planned,
                  progress.tenant_id ? `moving ${progress.tenant_id}` : progress.phase,
                );
              },
            )) as RebalanceResult;
            bar.done();
            printResult(Boolean(options.json), result, () =>
              result.moves.length === 0
                ? 'the shards are even: no move would gain enough'
                : table(
                    result.moves.map((move) => ({
                      tenant_id: move.tenant_id,
                      from: move.from,
                      to: move.to,
                      bytes: move.bytes,
                      result: move.error ? `failed: ${move.error}` : `moved, paused ${move.pause_ms} ms`,
                    })),
                  ),
            );
            if (result.moves.some((move) => move.error)) process.exitCode = EXIT_FAILED;
          });
        },
      ),
    );
}
