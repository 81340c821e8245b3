import type { Catalog } from '../catalog/catalog.js';
import {
  regionHasServers,
  type ShardCandidate,
  serverCandidates,
  shardCandidates,
} from '../catalog/placement-queries.js';
import type { DatabaseRecord } from '../catalog/records.js';
import { estimatedBytesOn } from '../catalog/tenant-sizes.js';
import { ConflictError, InvalidInputError } from '../errors/index.js';

/** What placement knows of a tenant: its id, and the region it is pinned to (null: unpinned). */
export interface PlacementTenant {
  id: string;
  region: string | null;
}

export interface PlacementPolicyOptions {
  catalog: Catalog;
}

function inRegion(region: string | null): string {
  return region === null ? '' : ` of region ${region}`;
}

/**
 * The one place that decides where a tenant may go: tenant creation asks it for a shard or a server, and
 * moves ask it too. A region-pinned tenant only ever goes to servers of its region, an unpinned one to any;
 * a draining server takes nothing new.
 *
 * Among the eligible shards the one with the most room wins: the smallest sum of its live tenants' bytes as
 * last recorded (`tenant_sizes`), then the fewest tenants, then the id. The bytes are the measure shard
 * rebalances even out (measureTenantBytes: pg_column_size of every row, as storage quotas count), recorded
 * by the last rebalance or dry run (`tenantctl shards rebalance --dry-run` refreshes them) and by a
 * rebalance's moves; placing reads them from the catalog and opens no connection to any server. A tenant
 * counts with the size recorded for the database it is in now, and with the mean recorded size when none is
 * (new, or moved since some other way), so that tenants created between two measurements spread over the
 * shards (see estimatedBytesOn). Without any measurement, placement falls back to the fewest tenants.
 */
export class PlacementPolicy {
  readonly #catalog: Catalog;

  constructor(options: PlacementPolicyOptions) {
    if (!options?.catalog) throw new TypeError('PlacementPolicy needs a catalog');
    this.#catalog = options.catalog;
  }

  /**
   * The ready shard for `tenant`: on a server of its region (any when unpinned) that is not draining, with
   * the most room (see the class); never `excludeDatabaseId`, nor a shard on `excludeServerId` (a move's
   * source: a drain plans as if its server were draining already). Throws 409 `no_shard` when there is none.
   */
  async shardFor(
    tenant: PlacementTenant,
    options: { excludeDatabaseId?: string; excludeServerId?: string } = {},
  ): Promise<string> {
    const candidates = await shardCandidates(this.#catalog.knex, {
      region: tenant.region,
      excludeDatabaseId: options.excludeDatabaseId,
      excludeServerId: options.excludeServerId,
    });
    if (candidates.length === 0) {
      throw new ConflictError(
        `no ready shard on a server${inRegion(tenant.region)} that is not draining for tenant ${tenant.id}: add one with \`tenantctl shards add <id> --server <server>\`${tenant.region === null ? '' : ` on a server of region ${tenant.region}`}`,
        'no_shard',
      );
    }
    return (await this.#roomiest(candidates)).id;
  }

  /**
   * The server for `tenant`'s new dedicated database: of its region (any when unpinned), not draining, with
   * the fewest databases. Throws 409 `no_server` when there is none.
   */
  async serverFor(tenant: PlacementTenant, options: { excludeServerId?: string } = {}): Promise<string> {
    const [server] = await serverCandidates(this.#catalog.knex, {
      region: tenant.region,
      excludeServerId: options.excludeServerId,
    });
    if (!server) {
      throw new ConflictError(
        `no server${inRegion(tenant.region)} that is not draining for tenant ${tenant.id}: add one with \`tenantctl servers add <id> --url <admin-url>${tenant.region === null ? '' : ` --region ${tenant.region}`}\``,
        'no_server',
      );
    }
    return server.id;
  }

  /**
   * Refuses to place `tenant` in `database`: 400 `region_mismatch` when the tenant is pinned to a region and
   * the database's server is of another (or of none), 409 `server_draining` when that server is draining.
   */
  async assertAllowed(tenant: PlacementTenant, database: DatabaseRecord): Promise<void> {
    const server = await this.#catalog.requireServer(database.serverId);
    if (tenant.region !== null && server.region !== tenant.region) {
      throw new InvalidInputError(
        `tenant ${tenant.id} is pinned to region ${tenant.region}: database ${database.id} is on server ${server.id}, ${server.region === null ? 'which has no region' : `of region ${server.region}`}`,
        'region_mismatch',
      );
    }
    if (server.draining) {
      throw new ConflictError(
        `server ${server.id} is draining and takes no new tenants: database ${database.id} is on it`,
        'server_draining',
      );
    }
  }

  /** Refuses (400 `unknown_region`) a region no registered server is of; null (unpinned) always passes. */
  async assertRegionKnown(region: string | null): Promise<void> {
    if (region === null || (await regionHasServers(this.#catalog.knex, region))) return;
    throw new InvalidInputError(
      `unknown region ${region}: no server is of it (see \`tenantctl servers list\`)`,
      'unknown_region',
    );
  }

  /** The candidate with the most room (see the class); `candidates` come fewest tenants first, then by id. */
  async #roomiest(candidates: ShardCandidate[]): Promise<ShardCandidate> {
    if (candidates.length === 1) return candidates[0]!;
    const bytes = await estimatedBytesOn(
      this.#catalog.knex,
      candidates.map((shard) => shard.id),
    );
    // A stable sort keeps the fewest-tenants-then-id order among equal bytes.
    return [...candidates].sort((a, b) => bytes.get(a.id)! - bytes.get(b.id)!)[0]!;
  }
}
