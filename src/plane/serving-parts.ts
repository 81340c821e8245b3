import { DevIssuer } from '../auth/dev-issuer.js';
import {
  devImpersonationIssuer,
  type ImpersonationIssuer,
  keyImpersonationIssuer,
} from '../auth/impersonation-issuer.js';
import { ImpersonationKeyRing } from '../auth/impersonation-keys.js';
import type { TokenVerifier } from '../auth/principal.js';
import { createTokenVerifier } from '../auth/token-verifier.js';
import type { Catalog } from '../catalog/catalog.js';
import type { SecretBox } from '../catalog/secret-box.js';
import { ALL_TENANTS, TenantDirectory } from '../catalog/tenant-directory.js';
import type { Config } from '../config.js';
import type { InstanceRegistry } from '../instances/instance-registry.js';
import type { Logger } from '../logging/logger.js';
import { TenantRouter } from '../routing/tenant-router.js';
import type { PlaneOptions } from './services.js';

export interface RoutingParts {
  directory: TenantDirectory;
  router: TenantRouter;
  verifier: TokenVerifier;
  devIssuer: DevIssuer | undefined;
  /** Mints read-only impersonation tokens; the verifier accepts them. */
  impersonation: ImpersonationIssuer;
}

/**
 * What serving tenant traffic takes: the catalog's change channel (started), the router over it, holding
 * the instance's share of each server's budget, and the token verifier (JWKS, or the development issuer).
 */
export async function openRoutingParts(
  parts: {
    config: Config;
    catalog: Catalog;
    controlDatabaseUrl: string;
    logger: Logger;
    registry: InstanceRegistry;
    /** Seals the impersonation key in the catalog. */
    secrets: SecretBox;
  },
  router: PlaneOptions['router'],
): Promise<RoutingParts> {
  const { config, catalog, logger, registry } = parts;
  const directory = new TenantDirectory({
    catalog,
    controlDatabaseUrl: parts.controlDatabaseUrl,
    logger,
    lease: registry,
  });
  // A server row may have changed (its admin URL replaced, say): new connections read its credentials
  // again. Only what the live channel says counts: while it is degraded every route is dropped each
  // second, but the credentials stay, so a catalog outage does not stop new connections to the servers.
  // Going live again drops them too, for a change missed meanwhile.
  directory.on('changed', (tenantId) => {
    if (tenantId === ALL_TENANTS && directory.changeChannel === 'live') catalog.forgetServerCredentials();
  });
  await directory.start();
  const { retiredMaxPools: _retired, ...routerConfig } = config.router;
  const tenantRouter = new TenantRouter({
    ...routerConfig,
    ...router,
    catalog,
    directory,
    logger,
    lease: registry,
  });
  registry.attach(tenantRouter.pools);
  if (config.auth.jwksUrl && config.auth.issuer && config.auth.audience) {
    // The provider signs every token but impersonation tokens, which tenantplane signs with its own key.
    // Its keys are re-read when the change channel says anything may have changed (a rotation notifies it).
    const keys = await ImpersonationKeyRing.open(catalog.knex, parts.secrets, logger);
    directory.on('changed', (tenantId) => {
      if (tenantId === ALL_TENANTS) keys.refresh();
    });
    const impersonation = keyImpersonationIssuer(keys, config.auth.audience);
    // The key ring is the impersonation issuer's key source: a verification remembered for a key it no
    // longer holds is checked afresh (and refused), and an unknown kid makes it re-read the catalog.
    const verifier = createTokenVerifier({
      issuer: config.auth.issuer,
      audience: config.auth.audience,
      keys: { jwksUrl: config.auth.jwksUrl },
      otherIssuers: [{ issuer: impersonation.issuer, keys }],
      verifiedTokenCacheSize: config.auth.tokenCacheSize,
    });
    return { directory, router: tenantRouter, verifier, devIssuer: undefined, impersonation };
  }
  const devIssuer = await DevIssuer.load(config.dataDir);
  const verifier = devIssuer.verifier({ verifiedTokenCacheSize: config.auth.tokenCacheSize });
  return {
    directory,
    router: tenantRouter,
    verifier,
    devIssuer,
    impersonation: devImpersonationIssuer(devIssuer),
  };
}
