import type { Command } from 'commander';
import type { Actor } from '../../catalog/catalog.js';
import { redactServerUrl } from '../../catalog/connection-config.js';
import { migrateControlDatabase } from '../../catalog/control-database.js';
import { InvalidInputError } from '../../errors/index.js';
import { assertSlug } from '../../ids.js';
import { checkRegion } from '../../placement/region.js';
import { type CommonOptions, runCommand } from '../command-runner.js';
import { printResult, table } from '../output.js';
import { withRuntime } from '../runtime.js';
import { registerRebalanceCommand, registerServerDrainCommand } from './placement-commands.js';

/** The audit log's actor for CLI commands: the login name the shell gives (`USER`), not a setting of ours. */
export const CLI_ACTOR: Actor = { actor: `cli:${process.env.USER ?? 'operator'}` };

function positiveInteger(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1)
    throw new InvalidInputError(`${flag} must be a positive integer`);
  return Number(raw);
}

/** `control`, `servers` and `shards`: the catalog's infrastructure side. */
export function registerCatalogCommands(program: Command): void {
  const control = program.command('control').description('the control-plane catalog');
  control
    .command('migrate')
    .description('bring the catalog schema up to date')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (options: CommonOptions) => {
        await withRuntime({ migrate: false, serveTraffic: false }, async (runtime) => {
          const result = await migrateControlDatabase(runtime.tp.controlDatabaseUrl);
          printResult(Boolean(options.json), result, () =>
            result.applied.length === 0
              ? 'catalog schema is up to date'
              : `applied ${result.applied.length}: ${result.applied.join(', ')}`,
          );
        });
      }),
    );

  const servers = program.command('servers').description('PostgreSQL servers that host tenant databases');
  servers
    .command('add <id>')
    .description('register a server and create its application role')
    .requiredOption('--url <admin-url>', 'admin connection URL (a role with CREATEDB and CREATEROLE)')
    .option('--max-connections <n>', 'connection budget on this server (default: 80% of its max_connections)')
    .option('--region <region>', "the server's region: tenants pinned to it are placed only on its servers")
    .option('--json', 'machine-readable output')
    .action(
      runCommand(
        async (
          id: string,
          options: CommonOptions & { url: string; maxConnections?: string; region?: string },
        ) => {
          const maxConnections = positiveInteger(options.maxConnections, '--max-connections');
          const region = checkRegion(options.region, '--region');
          await withRuntime({ serveTraffic: false }, async (runtime) => {
            const server = await runtime.tp.servers.add(
              { id, adminUrl: options.url, region, ...(maxConnections ? { maxConnections } : {}) },
              CLI_ACTOR,
            );
            printResult(
              Boolean(options.json),
              server,
              () =>
                `server ${server.id} registered (${redactServerUrl(options.url)}, TLS: ${server.tls.sslmode}${region ? `, region ${region}` : ''})`,
            );
          });
        },
      ),
    );
  servers
    .command('update <id>')
    .description("replace a server's admin URL (a rotated password, a new CA) without touching its databases")
    .requiredOption(
      '--url <admin-url>',
      'the new admin URL of the same server; its TLS settings apply to every connection',
    )
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (id: string, options: CommonOptions & { url: string }) => {
        await withRuntime({ serveTraffic: false }, async (runtime) => {
          const server = await runtime.tp.servers.update({ id, adminUrl: options.url }, CLI_ACTOR);
          printResult(
            Boolean(options.json),
            server,
            () =>
              `server ${server.id} now reached at ${redactServerUrl(options.url)} (TLS: ${server.tls.sslmode})`,
          );
        });
      }),
    );
  servers
    .command('list')
    .description('list registered servers')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (options: CommonOptions) => {
        await withRuntime({ serveTraffic: false }, async (runtime) => {
          const loads = await runtime.tp.catalog.serverLoads();
          const list = await Promise.all(
            loads.map(async (server) => ({ ...server, tls: await runtime.tp.catalog.serverTls(server.id) })),
          );
          printResult(Boolean(options.json), list, () =>
            table(
              list.map((server) => ({
                id: server.id,
                host: `${server.host}:${server.port}`,
                region: server.region ?? '',
                draining: server.draining ? 'yes' : 'no',
                tls: server.tls.sslmode === 'disable' ? 'off' : server.tls.sslmode,
                max_connections: server.maxConnections,
                databases: server.databases,
                app_role: server.appRole,
              })),
            ),
          );
        });
      }),
    );
  servers
    .command('undrain <id>')
    .description('let a draining server take new placements again')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (id: string, options: CommonOptions) => {
        assertSlug(id, 'server id');
        await withRuntime({ serveTraffic: false }, async (runtime) => {
          const server = await runtime.tp.catalog.setServerDraining(id, false, CLI_ACTOR);
          printResult(Boolean(options.json), server, () => `server ${server.id} takes new placements`);
        });
      }),
    );

  registerServerDrainCommand(servers);

  const shards = program.command('shards').description('shared databases for starter and pro tenants');
  shards
    .command('add <id>')
    .description('create and migrate a shard database on a server')
    .requiredOption('--server <server-id>', 'server to create it on')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (id: string, options: CommonOptions & { server: string }) => {
        await withRuntime({ serveTraffic: false }, async (runtime) => {
          const shard = await runtime.tp.shards.add({ id, serverId: options.server }, CLI_ACTOR);
          printResult(
            Boolean(options.json),
            shard,
            () => `shard ${shard.id} ready (database ${shard.databaseName})`,
          );
        });
      }),
    );
  shards
    .command('list')
    .description('list shards with their tenant counts')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (options: CommonOptions) => {
        await withRuntime({ serveTraffic: false }, async (runtime) => {
          const list = await runtime.tp.catalog.shardLoads();
          printResult(Boolean(options.json), list, () =>
            table(
              list.map((shard) => ({
                id: shard.id,
                server: shard.serverId,
                database: shard.databaseName,
                status: shard.status,
                tenants: shard.tenants,
              })),
            ),
          );
        });
      }),
    );
  registerRebalanceCommand(shards);
}
