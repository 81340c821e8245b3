import type { DatabaseRecord } from '../catalog/records.js';
import { assertSlug } from '../ids.js';
import { TENANT_SETTING } from './tenant-setting.js';

const DEDICATED_ID_PREFIX = 'tenant:';

/**
 * The startup option that binds a session to a tenant for its whole life: `-c tenantplane.tenant_id=<id>`.
 * Any role may set a placeholder setting when it connects (`ALTER DATABASE … SET` of one needs a
 * superuser, which managed PostgreSQL does not give). The id is a checked slug: nothing in it needs
 * escaping in the options string.
 */
export function tenantStartupOption(tenantId: string): string {
  return `-c ${TENANT_SETTING}=${assertSlug(tenantId)}`;
}

/** `options` for a connection bound to the tenant, keeping any options it already has. */
export function withTenantOption(options: string | undefined, tenantId: string): string {
  const binding = tenantStartupOption(tenantId);
  return options ? `${options} ${binding}` : binding;
}

/**
 * A connection URL whose sessions act as the tenant from the moment they connect: for work on a tenant's
 * own database (its migrations, a scratch copy of it) run by tools that open their own connections.
 */
export function tenantBoundUrl(url: string, tenantId: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set(
    'options',
    withTenantOption(parsed.searchParams.get('options') ?? undefined, tenantId),
  );
  return parsed.toString();
}

/** Connection settings made of a URL and more (such as serverClientConfig's), bound to the tenant likewise. */
export function tenantBoundConfig<T extends { connectionString: string }>(config: T, tenantId: string): T {
  return { ...config, connectionString: tenantBoundUrl(config.connectionString, tenantId) };
}

/**
 * The tenant whose own database this is, or undefined for a shard. The catalog is the record: a dedicated
 * database's id is `tenant:<tenant id>` (dedicatedDatabaseId), or `tenant:<tenant id>:<generation>` once a
 * move has taken it to another server, whichever way it was made.
 */
export function databaseTenant(database: Pick<DatabaseRecord, 'id' | 'kind'>): string | undefined {
  if (database.kind !== 'dedicated' || !database.id.startsWith(DEDICATED_ID_PREFIX)) return undefined;
  return assertSlug(database.id.slice(DEDICATED_ID_PREFIX.length).replace(/:[0-9]+$/, ''));
}
