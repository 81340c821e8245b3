#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { EXIT_USAGE, reportFailure } from './command-runner.js';
import { registerBackupCommands } from './commands/backup-commands.js';
import { registerCatalogCommands } from './commands/catalog-commands.js';
import { registerImpersonationCommands } from './commands/impersonation-commands.js';
import { registerMigrateCommands } from './commands/migrate-commands.js';
import { registerServeCommand } from './commands/serve-command.js';
import { registerTenantCommands } from './commands/tenant-commands.js';
import { registerTierCommands } from './commands/tier-commands.js';
import { registerTokenCommand } from './commands/token-command.js';
import { registerUsageCommands } from './commands/usage-commands.js';
import { registerWorkerCommand } from './commands/worker-command.js';

const program = new Command('tenantctl')
  .description('tenantplane operator CLI: servers, shards, tenants and the API service')
  .showHelpAfterError()
  .exitOverride();
registerCatalogCommands(program);
registerTenantCommands(program);
registerTierCommands(program);
registerMigrateCommands(program);
registerBackupCommands(program);
registerTokenCommand(program);
registerImpersonationCommands(program);
registerUsageCommands(program);
registerServeCommand(program);
registerWorkerCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end here with exit code 0; usage mistakes get the contract's 2.
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    reportFailure(error, process.argv.includes('--json'));
  }
}
