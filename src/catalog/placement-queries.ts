import type { Knex } from 'knex';

/** A ready shard that may take a tenant, with what the placement policy weighs. */
export interface ShardCandidate {
  id: string;
  serverId: string;
  databaseName: string;
  /** Live (not deleted) tenants on it. */
  tenants: number;
}

/** A server that may take a new dedicated database, with the databases it holds already. */
export interface ServerCandidate {
  id: string;
  region: string | null;
  databases: number;
}

/** Which servers are eligible: those of `region` (any region when null), never a draining one. */
interface Eligible {
  region: string | null;
  /** Leaves out this server (a move's source). */
  excludeServerId?: string | undefined;
}

/**
 * Ready shards on servers that are not draining, of `region` if it is given, with their live tenants,
 * fewest first (then by id).
 */
export async function shardCandidates(
  knex: Knex,
  options: Eligible & { excludeDatabaseId?: string | undefined },
): Promise<ShardCandidate[]> {
  const query = knex('databases as d')
    .join('servers as s', 's.id', 'd.server_id')
    .leftJoin('tenants as t', function joinLiveTenants() {
      this.on('t.database_id', 'd.id').andOnNotIn('t.status', ['deleted']);
    })
    .where({ 'd.kind': 'shard', 'd.status': 'ready', 's.draining': false })
    .groupBy('d.id')
    .select('d.id', 'd.server_id', 'd.database_name', knex.raw('count(t.id)::int AS tenants'))
    .orderBy([{ column: 'tenants', order: 'asc' }, { column: 'd.id' }]);
  if (options.region !== null) query.where('s.region', options.region);
  if (options.excludeDatabaseId !== undefined) query.whereNot('d.id', options.excludeDatabaseId);
  if (options.excludeServerId !== undefined) query.whereNot('s.id', options.excludeServerId);
  const rows: Array<{ id: string; server_id: string; database_name: string; tenants: number }> = await query;
  return rows.map((row) => ({
    id: row.id,
    serverId: row.server_id,
    databaseName: row.database_name,
    tenants: row.tenants,
  }));
}

/**
 * Servers that are not draining, of `region` if it is given, with the number of databases on each, fewest
 * first (then by id): where the next dedicated database goes.
 */
export async function serverCandidates(knex: Knex, options: Eligible): Promise<ServerCandidate[]> {
  const query = knex('servers as s')
    .leftJoin('databases as d', 'd.server_id', 's.id')
    .where('s.draining', false)
    .groupBy('s.id')
    .select('s.id', 's.region', knex.raw('count(d.id)::int AS databases'))
    .orderBy([{ column: 'databases', order: 'asc' }, { column: 's.id' }]);
  if (options.region !== null) query.where('s.region', options.region);
  if (options.excludeServerId !== undefined) query.whereNot('s.id', options.excludeServerId);
  return query;
}

/** Whether any registered server, draining or not, is of `region`. */
export async function regionHasServers(knex: Knex, region: string): Promise<boolean> {
  return (await knex('servers').where({ region }).first('id')) !== undefined;
}
