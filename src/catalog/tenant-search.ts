import type { Knex } from 'knex';
import type { TenantStatus } from './records.js';

/** What the tenant list can be narrowed to; every field given must hold. */
export interface TenantFilter {
  /** The id starts with it, or the name contains it (any case). */
  text?: string;
  tier?: string;
  status?: TenantStatus;
  /** Placed on a database of this server. */
  serverId?: string;
  region?: string;
}

/** `text` as a LIKE pattern that matches it literally: its `%`, `_` and `\` are escaped. */
function literal(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

/**
 * Narrows a query of `tenants` to the filter. Each filter is an indexed column (control migration
 * 0019_tenant_search.sql: tier, status and region each with id, for the id-ordered keyset pages; the
 * server through tenants' database_id index), so a page stays an index range scan at 10,000 tenants. The
 * name's substring match is the one filter that reads every live tenant; it is bounded by the catalog's
 * size, which holds one short row per tenant.
 */
export function applyTenantFilter(query: Knex.QueryBuilder, filter: TenantFilter): Knex.QueryBuilder {
  if (filter.tier !== undefined) query.where('tenants.tier', filter.tier);
  if (filter.status !== undefined) query.where('tenants.status', filter.status);
  if (filter.region !== undefined) query.where('tenants.region', filter.region);
  if (filter.serverId !== undefined) {
    const serverId = filter.serverId;
    query.whereIn('tenants.database_id', (databases) =>
      databases.select('id').from('databases').where('server_id', serverId),
    );
  }
  if (filter.text !== undefined && filter.text !== '') {
    const pattern = literal(filter.text.toLowerCase());
    query.where((match) =>
      match
        .whereRaw("tenants.id LIKE ? ESCAPE '\\'", [`${pattern}%`])
        .orWhereRaw("lower(tenants.name) LIKE ? ESCAPE '\\'", [`%${pattern}%`]),
    );
  }
  return query;
}
