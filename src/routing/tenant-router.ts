import knexFactory, { type Knex } from 'knex';
import type { Catalog } from '../catalog/catalog.js';
import { ROUTER_BUDGET_SHARE, routerBudget } from '../catalog/connection-budget.js';
import type { TenantRoute } from '../catalog/records.js';
import type { TenantDirectory } from '../catalog/tenant-directory.js';
import { ForbiddenError, UnavailableError } from '../errors/index.js';
import { assertSlug } from '../ids.js';
import type { Logger } from '../logging/logger.js';
import { traceCatalogLookup } from '../tracing/tenant-spans.js';
import { ElasticPool, type ElasticPoolOptions } from './elastic-pool.js';
import { TenantDatabase } from './tenant-database.js';

export interface TenantRouterOptions extends Omit<ElasticPoolOptions, 'credentials' | 'logger'> {
  catalog: Catalog;
  directory: TenantDirectory;
  logger: Logger;
  /** Connections per shard pool; shared by all the shard's tenants. Default 10. */
  shardPoolSize?: number;
  /**
   * Part of each server's budget (`servers.max_connections`) that the routers of all instances together
   * may use, leaving the rest to migrations and jobs. Default 0.8. Each instance holds its share of it
   * (see InstanceRegistry).
   */
  budgetShare?: number;
}

/**
 * Sends each tenant to its database. Looks the tenant up (cached, see TenantDirectory), refuses a tenant
 * that is not active before any pool exists, and hands out a TenantDatabase bound to the tenant.
 */
export class TenantRouter {
  readonly pools: ElasticPool;
  readonly #directory: TenantDirectory;
  readonly #shardPoolSize: number;
  readonly #budgetShare: number;
  /** Compiles knex builders only; statements run through TenantDatabase. */
  readonly #builder: Knex = knexFactory({ client: 'pg' });
  readonly #onChange: (tenantId: string) => void;
  /** Catalog changes heard so far: a handle made before the latest one re-checks its route (see #recheck). */
  #changes = 0;

  constructor(options: TenantRouterOptions) {
    this.#directory = options.directory;
    this.#shardPoolSize = options.shardPoolSize ?? 10;
    this.#budgetShare = options.budgetShare ?? ROUTER_BUDGET_SHARE;
    if (!(this.#budgetShare > 0 && this.#budgetShare <= 1))
      throw new TypeError('budgetShare must be in (0, 1]');
    const { catalog } = options;
    this.pools = new ElasticPool({
      ...options,
      credentials: (serverId) => catalog.serverAppCredentials(serverId),
    });
    // A dedicated tenant that changed (suspended, deleted, moved) gets its pool closed once in-flight work
    // ends; shard pools are shared and stay.
    this.#onChange = (tenantId) => {
      this.#changes += 1;
      this.pools.evictTenant(tenantId);
    };
    this.#directory.on('changed', this.#onChange);
  }

  /** The tenant's database handle; throws 403 for an unknown, suspended or deleted tenant. */
  async forTenant(tenantId: string): Promise<TenantDatabase> {
    assertSlug(tenantId);
    const route = await traceCatalogLookup(tenantId, () => this.#directory.lookup(tenantId));
    assertServable(tenantId, route);
    const seen = this.#changes;
    return new TenantDatabase(
      tenantId,
      route.placement,
      {
        databaseId: route.databaseId,
        databaseName: route.databaseName,
        serverId: route.serverId,
        poolSize: route.placement === 'shard' ? this.#shardPoolSize : route.poolSize,
        serverBudget: routerBudget(route.serverMaxConnections, this.#budgetShare),
        // A dedicated database's connections act as its tenant from the start (see TenantDatabase).
        ...(route.placement === 'dedicated' ? { tenantId } : {}),
      },
      this.pools,
      this.#builder,
      route.tier,
      route.limits,
      route.features,
    ).guardedBy(() => this.#recheck(tenantId, route.databaseId, seen));
  }

  /**
   * Run before each statement of a handle. A handle made before the latest catalog change this process
   * heard of looks its tenant up again: a tenant paused for a move (or suspended, or moved) since the handle
   * was made is refused, so no statement reaches a placement after routers were told to stop using it.
   */
  #recheck(tenantId: string, databaseId: string, seen: number): Promise<void> | undefined {
    if (this.#changes === seen) return undefined;
    return this.#directory.lookup(tenantId).then((route) => {
      assertServable(tenantId, route);
      if (route.databaseId !== databaseId) {
        throw new UnavailableError(`tenant ${tenantId} has moved; retry`, 'tenant_moved', {
          retryAfterSeconds: 1,
        });
      }
    });
  }

  async close(): Promise<void> {
    this.#directory.off('changed', this.#onChange);
    await this.pools.close();
    await this.#builder.destroy();
  }
}

function assertServable(tenantId: string, route: TenantRoute | undefined): asserts route is TenantRoute {
  switch (route?.status) {
    case 'active':
      return;
    case 'suspended':
      throw new ForbiddenError(`tenant ${tenantId} is suspended`, 'tenant_suspended');
    case 'moving':
      throw new UnavailableError(`tenant ${tenantId} is moving; retry shortly`, 'tenant_moving', {
        retryAfterSeconds: 5,
      });
    default:
      // Unknown, still provisioning, being deleted or deleted: nothing to serve, and no hint which.
      throw new ForbiddenError(`tenant ${tenantId} is not available`, 'tenant_unavailable');
  }
}
