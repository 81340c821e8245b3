import type { Catalog } from '../catalog/catalog.js';
import type { Logger } from '../logging/logger.js';

/** What every provisioner needs, built once by the composition root. */
export interface ProvisioningContext {
  catalog: Catalog;
  /** Prefix of database and role names on the servers (see Config.databasePrefix). */
  databasePrefix: string;
  tenantMigrationsDir: string;
  logger: Logger;
}
