import type { Command } from 'commander';
import {
  IMPERSONATION_KEY_RETENTION_SECONDS,
  rotateImpersonationKey,
} from '../../auth/impersonation-keys.js';
import { SecretBox } from '../../catalog/secret-box.js';
import { type CommonOptions, runCommand } from '../command-runner.js';
import { printResult } from '../output.js';
import { withRuntime } from '../runtime.js';
import { CLI_ACTOR } from './catalog-commands.js';

/**
 * `impersonation rotate-key`: a new impersonation signing key, taken up by every serving process within
 * moments, without a restart; the keys it replaces stay trusted while their tokens may be in use.
 */
export function registerImpersonationCommands(program: Command): void {
  const impersonation = program
    .command('impersonation')
    .description("impersonation tokens: tenantplane's own signing key beside an external identity provider");

  impersonation
    .command('rotate-key')
    .description(
      'add a new impersonation signing key, which every serving process signs with from now on, and ' +
        `delete the keys replaced more than ${IMPERSONATION_KEY_RETENTION_SECONDS / 60} minutes ago ` +
        '(audited impersonation.key.rotated); no restart needed',
    )
    .option('--json', 'machine-readable output')
    .action(
      runCommand(async (options: CommonOptions) => {
        await withRuntime({ serveTraffic: false }, async ({ tp }) => {
          // The catalog secret key, found as the services found it: it seals the new private key.
          const secrets = tp.config.catalogSecretKey
            ? SecretBox.fromBase64(tp.config.catalogSecretKey)
            : await SecretBox.fromKeyFile(tp.config.dataDir);
          const rotation = await rotateImpersonationKey({
            knex: tp.catalog.knex,
            secrets,
            audit: (action, details) => tp.catalog.audit(CLI_ACTOR, action, null, details),
          });
          printResult(Boolean(options.json), rotation, () =>
            [
              `new impersonation key ${rotation.kid} signs from now on`,
              `trusted: ${rotation.trusted.join(' ')}`,
              `retired: ${rotation.retired.length > 0 ? rotation.retired.join(' ') : '(none)'}`,
            ].join('\n'),
          );
        });
      }),
    );
}
