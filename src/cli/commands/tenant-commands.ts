import type { Command } from 'commander';
import { deleteTenant } from '../../backup/tenant-deletion.js';
import { changeTenantFeatures, parseFeatureSettings, tenantFeatures } from '../../catalog/feature-flags.js';
import { InvalidInputError } from '../../errors/index.js';
import { assertSlug } from '../../ids.js';
import { setRequestRate } from '../../limits/tenant-limits.js';
import { describeTenantWithUsage, quotaLines } from '../../limits/tenant-usage.js';
import { changeTier } from '../../moves/move-jobs.js';
import { describeMoveProgress, waitForMove } from '../../moves/move-progress.js';
import { checkRegion } from '../../placement/region.js';
import { describeTenant, describeTenants, type TenantView } from '../../provisioning/tenant-view.js';
import { type CommonOptions, runCommand } from '../command-runner.js';
import { printResult, table } from '../output.js';
import { withRuntime } from '../runtime.js';
import { CLI_ACTOR } from './catalog-commands.js';
import { registerTenantMoveCommand } from './placement-commands.js';
import { collect, describeFeatures } from './tier-commands.js';

function showTenant(view: TenantView): string {
  const placement = view.placement
    ? `${view.placement.kind} ${view.placement.database_id} (database ${view.placement.database_name} on ${view.placement.server_id})`
    : 'none';
  return [
    `id:        ${view.id}`,
    `name:      ${view.name}`,
    `tier:      ${view.tier}`,
    `status:    ${view.status}`,
    `region:    ${view.region ?? 'any (unpinned)'}`,
    `placement: ${placement}`,
    `created:   ${view.created_at}`,
  ].join('\n');
}

/** `tenants ...`: create, inspect, suspend and delete tenants. */
export function registerTenantCommands(program: Command): void {
  const tenants = program.command('tenants').description('tenants and their placement');
  registerTenantMoveCommand(tenants);

  tenants
    .command('create <id>')
    .description('create a tenant: placed, its database or rows ready, migrated')
    .requiredOption('--tier <tier>', 'starter, pro or enterprise')
    .option('--name <name>', 'display name (default: the id)')
    .option('--region <region>', 'pin the tenant to a region: it is only placed on servers of it')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(
        async (id: string, options: CommonOptions & { tier: string; name?: string; region?: string }) => {
          assertSlug(id);
          const region = checkRegion(options.region, '--region');
          await withRuntime({ serveTraffic: false }, async ({ tp }) => {
            const tenant = await tp.tenants.create(
              { id, tier: options.tier, region, ...(options.name ? { name: options.name } : {}) },
              CLI_ACTOR,
            );
            const view = await describeTenant(tp.catalog, tenant);
            printResult(Boolean(options.json), view, () => `tenant ${id} created\n${showTenant(view)}`);
          });
        },
      ),
    );

  tenants
    .command('list')
    .description('list tenants')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (options: CommonOptions) => {
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          const views: TenantView[] = [];
          let after: string | undefined;
          for (;;) {
            const page = await tp.catalog.listTenants({ limit: 500, ...(after ? { after } : {}) });
            views.push(...(await describeTenants(tp.catalog, page)));
            if (page.length < 500) break;
            after = page.at(-1)!.id;
          }
          printResult(Boolean(options.json), views, () =>
            table(
              views.map((view) => ({
                id: view.id,
                tier: view.tier,
                status: view.status,
                placement: view.placement?.database_id ?? '',
                name: view.name,
              })),
            ),
          );
        });
      }),
    );

  tenants
    .command('show <id>')
    .description('show one tenant and its placement')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (id: string, options: CommonOptions) => {
        assertSlug(id);
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          const view = await describeTenantWithUsage(tp.catalog, await tp.catalog.requireTenant(id));
          printResult(Boolean(options.json), view, () => [showTenant(view), ...quotaLines(view)].join('\n'));
        });
      }),
    );

  tenants
    .command('set-tier <id> <tier>')
    .description(
      'change a tenant’s tier; between a shard tier and enterprise this moves its rows, pausing writes only for the final switch',
    )
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (id: string, tier: string, options: CommonOptions) => {
        assertSlug(id);
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          const change = await changeTier(tp, id, tier, CLI_ACTOR);
          if (change.tenant) {
            const view = await describeTenant(tp.catalog, change.tenant);
            printResult(Boolean(options.json), view, () => `tenant ${id} is now on tier ${view.tier}`);
            return;
          }
          if (!options.json) {
            const where = tp.jobs.distributed ? ', run by a `tenantctl worker`' : '';
            process.stdout.write(`moving ${id} to tier ${tier} (job ${change.jobId}${where})\n`);
          }
          const move = await waitForMove(tp.jobs, change.jobId, (progress) => {
            if (!options.json) process.stdout.write(`  ${describeMoveProgress(progress)}\n`);
          });
          const view = await describeTenant(tp.catalog, await tp.catalog.requireTenant(id));
          printResult(Boolean(options.json), { ...view, move }, () =>
            move.moved
              ? `tenant ${id} is now on tier ${view.tier} in ${view.placement?.database_id}: ${move.rows_copied} rows copied, writes paused ${move.pause_ms} ms`
              : `tenant ${id} is on tier ${view.tier}; nothing to move`,
          );
        });
      }),
    );

  tenants
    .command('set-limit <id>')
    .description('override the tenant’s request rate, or go back to its tier’s')
    .option('--requests-per-minute <n>', 'requests per minute, shared by every instance')
    .option('--tier-default', 'drop the override: the tier’s rate applies again')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(
        async (
          id: string,
          options: CommonOptions & { requestsPerMinute?: string; tierDefault?: boolean },
        ) => {
          assertSlug(id);
          if ((options.requestsPerMinute === undefined) === !options.tierDefault) {
            throw new InvalidInputError('give either --requests-per-minute N or --tier-default');
          }
          const rate = options.tierDefault
            ? null
            : /^\d{1,9}$/.test(options.requestsPerMinute ?? '')
              ? Number(options.requestsPerMinute)
              : Number.NaN;
          await withRuntime({ serveTraffic: false }, async ({ tp }) => {
            const tenant = await setRequestRate(tp.catalog, id, rate, CLI_ACTOR);
            const view = await describeTenantWithUsage(tp.catalog, tenant);
            printResult(
              Boolean(options.json),
              view,
              () => `tenant ${id}: ${view.limits.requests_per_minute} requests per minute`,
            );
          });
        },
      ),
    );

  tenants
    .command('features <id>')
    .description(
      'show or change the tenant’s own feature flags, which override its tier’s (audited tenant.set_features)',
    )
    .option('--set <name=on|off>', 'turn a flag on or off for this tenant (repeatable)', collect)
    .option('--unset <name>', 'drop the tenant’s own setting: its tier’s applies again (repeatable)', collect)
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (id: string, options: CommonOptions & { set?: string[]; unset?: string[] }) => {
        assertSlug(id);
        const change = parseFeatureSettings(options.set ?? [], options.unset ?? []);
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          const tenant =
            Object.keys(change).length > 0
              ? await changeTenantFeatures(tp.catalog, id, change, CLI_ACTOR)
              : await tp.catalog.requireTenant(id);
          const view = {
            id: tenant.id,
            tier: tenant.tier,
            features: await tenantFeatures(tp.catalog, tenant),
            feature_overrides: tenant.featureOverrides,
          };
          printResult(Boolean(options.json), view, () =>
            [
              `tenant ${id} (tier ${view.tier})`,
              `  features:  ${describeFeatures(view.features)}`,
              `  overrides: ${describeFeatures(view.feature_overrides)}`,
            ].join('\n'),
          );
        });
      }),
    );

  for (const [command, status, verb] of [
    ['suspend', 'suspended', 'suspended: every request is refused with 403'],
    ['resume', 'active', 'active again'],
  ] as const) {
    tenants
      .command(`${command} <id>`)
      .description(
        command === 'suspend' ? 'refuse all of a tenant’s requests' : 'serve a suspended tenant again',
      )
      .option('--json', 'machine-readable output')
      .action(
        runCommand(async (id: string, options: CommonOptions) => {
          assertSlug(id);
          await withRuntime({ serveTraffic: false }, async ({ tp }) => {
            const view = await describeTenant(tp.catalog, await tp.tenants.setStatus(id, status, CLI_ACTOR));
            printResult(Boolean(options.json), view, () => `tenant ${id} ${verb}`);
          });
        }),
      );
  }

  tenants
    .command('delete <id>')
    .description('delete a tenant: its shard rows, or its dedicated database')
    .option('--confirm <id>', 'repeat the tenant id to confirm')
    .option(
      '--destroy-backups',
      'also destroy its backup keys, so none of its backups can ever be decrypted (also for a tenant already deleted)',
    )
    .option('--json', 'machine-readable output')
    .action(
      runCommand(
        async (id: string, options: CommonOptions & { confirm?: string; destroyBackups?: boolean }) => {
          assertSlug(id);
          await withRuntime({ serveTraffic: false }, async ({ tp }) => {
            const deletion = await deleteTenant(
              tp,
              { id, confirm: options.confirm, destroyBackups: Boolean(options.destroyBackups) },
              CLI_ACTOR,
            );
            const view = await describeTenant(tp.catalog, deletion.tenant);
            const result = deletion.backupKeys ? { ...view, backup_keys_destroyed: true } : view;
            printResult(Boolean(options.json), result, () =>
              deletion.backupKeys
                ? `tenant ${id} deleted; its backups can no longer be decrypted`
                : `tenant ${id} deleted`,
            );
          });
        },
      ),
    );
}
