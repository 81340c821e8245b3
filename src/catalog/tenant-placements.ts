import type { Knex } from 'knex';
import type { Placement } from './records.js';

/** A tenant where it is placed, as drains and rebalances read it. */
export interface PlacedTenant {
  tenantId: string;
  region: string | null;
  databaseId: string;
  kind: Placement;
  serverId: string;
  databaseName: string;
}

/** Tenants that can move (active or suspended) with their placement; of one server, or on shards. */
export async function placedTenants(
  knex: Knex,
  where: { serverId: string } | { kind: Placement },
): Promise<PlacedTenant[]> {
  const query = knex('tenants as t')
    .join('databases as d', 'd.id', 't.database_id')
    .whereIn('t.status', ['active', 'suspended'])
    .select(
      't.id as tenantId',
      't.region as region',
      'd.id as databaseId',
      'd.kind as kind',
      'd.server_id as serverId',
      'd.database_name as databaseName',
    )
    .orderBy('t.id');
  if ('serverId' in where) query.where('d.server_id', where.serverId);
  else query.where('d.kind', where.kind);
  return query;
}
