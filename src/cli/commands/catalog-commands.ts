import type { Command } from 'commander';
import type { Actor } from '../../catalog/catalog.js';
import { migrateControlDatabase } from '../../catalog/control-database.js';
import { InvalidInputError } from '../../errors.js';
import { redactUrl } from '../../logging/logger.js';
import { type CommonOptions, runCommand } from '../command-runner.js';
import { printResult, table } from '../output.js';
import { withRuntime } from '../runtime.js';

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
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (id: string, options: CommonOptions & { url: string; maxConnections?: string }) => {
        const maxConnections = positiveInteger(options.maxConnections, '--max-connections');
        await withRuntime({ serveTraffic: false }, async (runtime) => {
          const server = await runtime.tp.servers.add(
            { id, adminUrl: options.url, ...(maxConnections ? { maxConnections } : {}) },
            CLI_ACTOR,
          );
          printResult(
            Boolean(options.json),
            server,
            () => `server ${server.id} registered (${redactUrl(options.url)})`,
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
          const list = await runtime.tp.catalog.serverLoads();
          printResult(Boolean(options.json), list, () =>
            table(
              list.map((server) => ({
                id: server.id,
                host: `${server.host}:${server.port}`,
                max_connections: server.maxConnections,
                databases: server.databases,
                app_role: server.appRole,
              })),
            ),
          );
        });
      }),
    );

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
}
