import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { InvalidInputError } from '../../errors/index.js';
import { parseUsageRange } from '../../usage/usage-range.js';
import { tenantUsageReport } from '../../usage/usage-report.js';
import { usageCsvLines } from '../../usage/usage-store.js';
import { type CommonOptions, runCommand } from '../command-runner.js';
import { printResult, table } from '../output.js';
import { withRuntime } from '../runtime.js';

type RangeFlags = CommonOptions & { from?: string; to?: string; granularity?: string };

/** A storage sample for a table cell: '-' when none was taken in the period. */
const sampled = (value: number | null) => (value === null ? '-' : value);

/**
 * `usage <id>`: a tenant's metered usage per hour or day; `usage export`: every tenant's, as CSV for
 * billing (the same figures as `GET /admin/v1/tenants/:id/usage` and `GET /admin/v1/usage.csv`).
 */
export function registerUsageCommands(program: Command): void {
  const usage = program.command('usage').description('metered usage per tenant and period, for billing');
  // `usage <id>` is the default subcommand, so that `usage export` keeps its own --from and --to.
  usage
    .command('show', { isDefault: true })
    .description("a tenant's metered usage (requests, errors, database time, bytes, storage) per period")
    .argument('<id>', 'the tenant')
    .option('--from <time>', 'from this date or time (default: a day ago, 30 days by day)')
    .option('--to <time>', 'up to this date or time (default: now)')
    .option('--granularity <unit>', 'hour or day (default hour)')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (id: string, flags: RangeFlags) => {
        const range = parseUsageRange(flags);
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          const report = await tenantUsageReport(tp, id, range);
          printResult(Boolean(flags.json), report, () =>
            table(
              report.data.map((period) => ({
                period_start: period.period_start,
                requests: period.requests,
                errors_4xx: period.errors_4xx,
                errors_5xx: period.errors_5xx,
                db_time_ms: period.db_time_ms,
                bytes_in: period.bytes_in,
                bytes_out: period.bytes_out,
                storage_bytes: sampled(period.storage_bytes),
                rows: sampled(period.rows),
              })),
            ),
          );
        });
      }),
    );

  usage
    .command('export')
    .description("every tenant's usage as CSV, one row per tenant and period, for billing")
    .requiredOption('--from <time>', 'from this date or time (2026-12-01, 2026-12-01T10:00:00Z)')
    .requiredOption('--to <time>', 'up to this date or time')
    .option('--granularity <unit>', 'hour or day (default hour)')
    .option('--output <file>', 'write the CSV to this file (default: stdout)')
    .option('--json', 'with --output: print {output, rows} when done')
    .action(
      runCommand(async (flags: RangeFlags & { output?: string }) => {
        const range = parseUsageRange(flags);
        if (flags.json && !flags.output) {
          throw new InvalidInputError('--json needs --output: without it the CSV itself is the output');
        }
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          let rows = -1;
          const counted = async function* (lines: AsyncIterable<string>) {
            for await (const line of lines) {
              rows += 1;
              yield line;
            }
          };
          const lines = Readable.from(counted(usageCsvLines(tp.knex, range)));
          if (!flags.output) {
            await pipeline(lines, process.stdout, { end: false });
            return;
          }
          await pipeline(lines, createWriteStream(flags.output));
          const result = { output: flags.output, rows };
          printResult(Boolean(flags.json), result, () => `${rows} rows written to ${flags.output}`);
        });
      }),
    );
}
