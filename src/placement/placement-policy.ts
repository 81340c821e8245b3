import type { Catalog } from '../catalog/catalog.js';
import {
  regionHasServers,
  type ShardCandidate,
  serverCandidates,
  shardCandidates,
} from '../catalog/placement-queries.js';
import type { DatabaseRecord } from '../catalog/records.js';
import { ConflictError, InvalidInputError } from '../errors/index.js';
import type { Logger } from '../logging/logger.js';
import { withAdminClient } from '../provisioning/admin-connection.js';

/** What placement knows of a tenant: its id, and the region it is pinned to (null: unpinned). */
export interface PlacementTenant {
  id: string;
  region: string | null;
}

export interface PlacementPolicyOptions {
  catalog: Catalog;
  logger?: Logger;
  /**
   * Shard sizes are compared in steps of this many bytes: shards whose sizes fall in the same step count as
   * equally full, and the one with fewer tenants wins. A new tenant adds no bytes until it writes, so
   * without steps every tenant created in a burst would land on the one smallest shard. Default 64 MiB.
   */
  sizeStepBytes?: number;
  /**
   * How long the shard sizes measured on a server are reused, in ms; tenant counts are read afresh for every
   * placement. Default 10000; 0 measures every time.
   */
  sizeMaxAgeMs?: number;
}

interface MeasuredSizes {
  at: number;
  /** Size in bytes by database name; undefined when the server could not be asked. */
  sizes: Promise<Map<string, number> | undefined>;
}

const DEFAULT_SIZE_STEP_BYTES = 64 * 1024 * 1024;
const DEFAULT_SIZE_MAX_AGE_MS = 10000;

function inRegion(region: string | null): string {
  return region === null ? '' : ` of region ${region}`;
}

/**
 * The one place that decides where a tenant may go: tenant creation asks it for a shard or a server, and
 * moves ask it too. A region-pinned tenant only ever goes to servers of its region, an unpinned one to any;
 * a draining server takes nothing new.
 *
 * Among the eligible shards the one with the most room wins: the smallest by `pg_database_size`, measured
 * with one admin query per server (reused for `sizeMaxAgeMs`) and compared in steps of `sizeStepBytes`,
 * then the fewest tenants, then the id. When the size of any candidate cannot be read (its server is
 * unreachable, or its admin role may not read it), sizes are left out of that choice altogether and the
 * fewest tenants decides: mixing measured and unmeasured shards would rank them on different scales.
 */
export class PlacementPolicy {
  readonly #catalog: Catalog;
  readonly #logger: Logger | undefined;
  readonly #sizeStepBytes: number;
  readonly #sizeMaxAgeMs: number;
  readonly #measured = new Map<string, MeasuredSizes>();

  constructor(options: PlacementPolicyOptions) {
    const step = options.sizeStepBytes ?? DEFAULT_SIZE_STEP_BYTES;
    const maxAge = options.sizeMaxAgeMs ?? DEFAULT_SIZE_MAX_AGE_MS;
    if (!(Number.isInteger(step) && step > 0))
      throw new TypeError('sizeStepBytes must be a positive integer');
    if (!(Number.isFinite(maxAge) && maxAge >= 0)) throw new TypeError('sizeMaxAgeMs must be 0 or more');
    this.#catalog = options.catalog;
    this.#logger = options.logger;
    this.#sizeStepBytes = step;
    this.#sizeMaxAgeMs = maxAge;
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

  /** The candidate with the most room; `candidates` come fewest tenants first, then by id. */
  async #roomiest(candidates: ShardCandidate[]): Promise<ShardCandidate> {
    if (candidates.length === 1) return candidates[0]!;
    const byServer = new Map<string, string[]>();
    for (const shard of candidates) {
      byServer.set(shard.serverId, [...(byServer.get(shard.serverId) ?? []), shard.databaseName]);
    }
    const measured = new Map<string, Map<string, number> | undefined>();
    await Promise.all(
      [...byServer].map(async ([serverId, names]) => {
        measured.set(serverId, await this.#sizesOn(serverId, names));
      }),
    );
    const steps = new Map<string, number>();
    for (const shard of candidates) {
      const bytes = measured.get(shard.serverId)?.get(shard.databaseName);
      // One size missing: fewest tenants decides for all (see the class).
      if (bytes === undefined) return candidates[0]!;
      steps.set(shard.id, Math.floor(bytes / this.#sizeStepBytes));
    }
    // A stable sort keeps the fewest-tenants-then-id order within a step.
    return [...candidates].sort((a, b) => steps.get(a.id)! - steps.get(b.id)!)[0]!;
  }

  /** The sizes of `names` on a server, in one admin query, reused for sizeMaxAgeMs; undefined on failure. */
  #sizesOn(serverId: string, names: string[]): Promise<Map<string, number> | undefined> {
    const cached = this.#measured.get(serverId);
    const now = performance.now();
    if (cached && now - cached.at <= this.#sizeMaxAgeMs) {
      return cached.sizes.then((sizes) =>
        sizes === undefined || names.every((name) => sizes.has(name))
          ? sizes
          : this.#measure(serverId, names),
      );
    }
    return this.#measure(serverId, names);
  }

  #measure(serverId: string, names: string[]): Promise<Map<string, number> | undefined> {
    const sizes = (async () => {
      try {
        const url = await this.#catalog.serverAdminUrl(serverId);
        const { rows } = await withAdminClient(url, (client) =>
          client.query<{ datname: string; bytes: string }>(
            'SELECT datname, pg_database_size(oid) AS bytes FROM pg_database WHERE datname = ANY($1)',
            [names],
          ),
        );
        return new Map(rows.map((row) => [row.datname, Number(row.bytes)]));
      } catch (error) {
        this.#logger?.warn(
          { server: serverId, err: error },
          'placement: shard sizes unreadable, placing by tenant counts',
        );
        return undefined;
      }
    })();
    if (this.#sizeMaxAgeMs > 0) this.#measured.set(serverId, { at: performance.now(), sizes });
    return sizes;
  }
}
