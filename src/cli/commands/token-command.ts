import type { Command } from 'commander';
import { DevIssuer } from '../../auth/dev-issuer.js';
import { loadConfig } from '../../config.js';
import { ConfigError, InvalidInputError } from '../../errors/index.js';
import { assertSlug } from '../../ids.js';
import { type CommonOptions, runCommand } from '../command-runner.js';
import { printResult } from '../output.js';

/** `token`: mints development tokens; refused when a real identity provider is configured. */
export function registerTokenCommand(program: Command): void {
  program
    .command('token')
    .description('mint a token from the development issuer (only when AUTH_* is unset)')
    .option('--tenant <id>', 'token for this tenant')
    .option('--admin', 'token with the tenantplane:admin scope')
    .option('--expires-in <seconds>', 'lifetime in seconds', '3600')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (options: CommonOptions & { tenant?: string; admin?: boolean; expiresIn: string }) => {
        if (Boolean(options.tenant) === Boolean(options.admin)) {
          throw new InvalidInputError('give exactly one of --tenant <id> or --admin');
        }
        if (!/^\d+$/.test(options.expiresIn) || Number(options.expiresIn) < 1) {
          throw new InvalidInputError('--expires-in must be a positive number of seconds');
        }
        const config = loadConfig();
        if (config.auth.jwksUrl) {
          throw new ConfigError(
            'AUTH_JWKS_URL is set: tokens come from your identity provider, not tenantctl',
          );
        }
        const issuer = await DevIssuer.load(config.dataDir);
        const token = await issuer.mint({
          ...(options.tenant ? { tenantId: assertSlug(options.tenant) } : { admin: true }),
          expiresInSeconds: Number(options.expiresIn),
        });
        printResult(Boolean(options.json), { token }, () => token);
      }),
    );
}
