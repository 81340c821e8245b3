import type { Command } from 'commander';
import { NotFoundError } from '../../errors/index.js';
import { describeQuota, parseQuotaSetting, tierView } from '../../limits/tier-quotas.js';
import { type CommonOptions, runCommand } from '../command-runner.js';
import { printResult, table } from '../output.js';
import { withRuntime } from '../runtime.js';
import { CLI_ACTOR } from './catalog-commands.js';

/** Collects a repeatable option's values. */
const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `tiers`: the tiers, their limits and their quotas (rows of the catalog, see src/limits/tier-quotas.ts). */
export function registerTierCommands(program: Command): void {
  const tiers = program.command('tiers').description('tiers: placement, pool size, request rate and quotas');

  tiers
    .command('list')
    .description('list the tiers with their limits and quotas')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (options: CommonOptions) => {
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          const views = (await tp.catalog.listTiers()).map(tierView);
          printResult(Boolean(options.json), views, () =>
            table(
              views.map((view) => ({
                id: view.id,
                placement: view.placement,
                pool_size: view.pool_size,
                requests_per_minute: view.requests_per_minute,
                quotas: view.quotas.map((quota) => `${quota.name}=${quota.max ?? 'unlimited'}`).join(' '),
              })),
            ),
          );
        });
      }),
    );

  tiers
    .command('quotas <tier>')
    .description(
      "show or change a tier's quotas: --set name=limit counts rows of the table of that name " +
        '(storage_bytes: the size of the rows), --set name=rows:<table>:limit says which table; ' +
        'limit "unlimited" only measures',
    )
    .option('--set <name=limit>', 'add or change a quota (repeatable)', collect)
    .option('--unset <name>', 'remove a quota (repeatable)', collect)
    .option('--replace', 'the quotas given by --set become all of the tier’s')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(
        async (
          tierId: string,
          options: CommonOptions & { set?: string[]; unset?: string[]; replace?: boolean },
        ) => {
          const set = (options.set ?? []).map(parseQuotaSetting);
          const unset = options.unset ?? [];
          await withRuntime({ serveTraffic: false }, async ({ tp }) => {
            const changing = set.length > 0 || unset.length > 0 || Boolean(options.replace);
            const tier = changing
              ? await tp.catalog.changeTierQuotas(
                  tierId,
                  { set, unset, replace: Boolean(options.replace) },
                  CLI_ACTOR,
                )
              : await tp.catalog.getTier(tierId);
            if (!tier) throw new NotFoundError(`no tier ${tierId}`, 'unknown_tier');
            const view = tierView(tier);
            printResult(Boolean(options.json), view, () =>
              [
                `tier ${view.id}:`,
                ...(tier.quotas.length === 0 ? ['(no quotas)'] : tier.quotas.map(describeQuota)),
              ].join('\n  '),
            );
          });
        },
      ),
    );
}
