import type { Command } from 'commander';
import { changeTierFeatures, parseFeatureSettings } from '../../catalog/feature-flags.js';
import type { FeatureFlags } from '../../catalog/records.js';
import { NotFoundError } from '../../errors/index.js';
import { describeQuota, parseQuotaSetting, tierView } from '../../limits/tier-quotas.js';
import { type CommonOptions, runCommand } from '../command-runner.js';
import { printResult, table } from '../output.js';
import { withRuntime } from '../runtime.js';
import { CLI_ACTOR } from './catalog-commands.js';

/** Collects a repeatable option's values. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Flags as one cell or line: `beta-ui=on sso=off`, or `(none)`. */
export function describeFeatures(features: FeatureFlags): string {
  const settings = Object.entries(features).map(([name, on]) => `${name}=${on ? 'on' : 'off'}`);
  return settings.length > 0 ? settings.join(' ') : '(none)';
}

/**
 * `tiers`: the tiers, their limits, their quotas (rows of the catalog, see src/limits/tier-quotas.ts) and
 * their default feature flags (see src/catalog/feature-flags.ts).
 */
export function registerTierCommands(program: Command): void {
  const tiers = program
    .command('tiers')
    .description('tiers: placement, pool size, request rate, quotas and feature flags');

  tiers
    .command('list')
    .description('list the tiers with their limits, quotas and default feature flags')
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
                features: describeFeatures(view.features),
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

  tiers
    .command('features <tier>')
    .description(
      "show or change a tier's default feature flags, which its tenants have unless they override them " +
        '(audited tier.set_features)',
    )
    .option('--set <name=on|off>', 'turn a flag on or off (repeatable)', collect)
    .option('--unset <name>', 'remove a flag from the tier’s defaults (repeatable)', collect)
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (tierId: string, options: CommonOptions & { set?: string[]; unset?: string[] }) => {
        const change = parseFeatureSettings(options.set ?? [], options.unset ?? []);
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          const tier =
            Object.keys(change).length > 0
              ? await changeTierFeatures(tp.catalog, tierId, change, CLI_ACTOR)
              : await tp.catalog.getTier(tierId);
          if (!tier) throw new NotFoundError(`no tier ${tierId}`, 'unknown_tier');
          const view = tierView(tier);
          printResult(
            Boolean(options.json),
            view,
            () => `tier ${view.id} features: ${describeFeatures(view.features)}`,
          );
        });
      }),
    );
}
