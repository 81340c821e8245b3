import type { Command } from 'commander';
import { ADMIN_SCOPES } from '../../auth/admin-scopes.js';
import { DevIssuer } from '../../auth/dev-issuer.js';
import { TENANT_ROLES } from '../../auth/tenant-role.js';
import { loadConfig } from '../../config.js';
import { ConfigError, InvalidInputError } from '../../errors/index.js';
import { assertSlug } from '../../ids.js';
import { type CommonOptions, runCommand } from '../command-runner.js';
import { printResult } from '../output.js';

interface TokenOptions extends CommonOptions {
  tenant?: string;
  admin?: boolean;
  scope?: string;
  tenantRole?: string;
  expiresIn: string;
}

const SCOPES: readonly string[] = Object.values(ADMIN_SCOPES);
const ROLES: readonly string[] = TENANT_ROLES;

/** What the token grants: a tenant (with a role) or one admin scope, checked before anything is signed. */
function grantOf(options: TokenOptions): { tenantId: string; tenantRole?: string } | { scopes: string[] } {
  const given = [options.tenant, options.admin, options.scope].filter(Boolean).length;
  if (given !== 1)
    throw new InvalidInputError('give exactly one of --tenant <id>, --admin or --scope <scope>');
  if (options.tenantRole !== undefined && !options.tenant) {
    throw new InvalidInputError('--tenant-role goes with --tenant <id>');
  }
  if (options.tenant) {
    if (options.tenantRole !== undefined && !ROLES.includes(options.tenantRole)) {
      throw new InvalidInputError(`--tenant-role must be one of ${ROLES.join(', ')}`);
    }
    return {
      tenantId: assertSlug(options.tenant),
      ...(options.tenantRole === undefined ? {} : { tenantRole: options.tenantRole }),
    };
  }
  const scope = options.admin ? ADMIN_SCOPES.admin : options.scope!;
  if (!SCOPES.includes(scope)) throw new InvalidInputError(`--scope must be one of ${SCOPES.join(', ')}`);
  return { scopes: [scope] };
}

/** `token`: mints development tokens; refused when a real identity provider is configured. */
export function registerTokenCommand(program: Command): void {
  program
    .command('token')
    .description('mint a token from the development issuer (only when AUTH_* is unset)')
    .option('--tenant <id>', 'token for this tenant')
    .option('--tenant-role <role>', `the tenant token's role: ${ROLES.join(', ')} (default member)`)
    .option('--admin', `token with the ${ADMIN_SCOPES.admin} scope`)
    .option('--scope <scope>', `token with one admin scope: ${SCOPES.join(', ')}`)
    .option('--expires-in <seconds>', 'lifetime in seconds', '3600')
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (options: TokenOptions) => {
        const grant = grantOf(options);
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
        const token = await issuer.mint({ ...grant, expiresInSeconds: Number(options.expiresIn) });
        printResult(Boolean(options.json), { token }, () => token);
      }),
    );
}
