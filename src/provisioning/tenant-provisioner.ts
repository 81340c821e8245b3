import type { Actor } from '../catalog/catalog.js';
import { dedicatedDatabaseId, type TenantRecord } from '../catalog/records.js';
import { ConflictError, InvalidInputError } from '../errors/index.js';
import { assertSlug, dedicatedDatabaseName } from '../ids.js';
import { currentXid, waitForConfirmations } from '../moves/instance-confirmations.js';
import { waitForOlderTransactions } from '../moves/writer-drain.js';
import type { PlacementPolicy, PlacementTenant } from '../placement/placement-policy.js';
import { checkRegion } from '../placement/region.js';
import { databaseTenant } from '../tenant-session/tenant-binding.js';
import { withAdminClient } from './admin-connection.js';
import { DatabaseBuilder } from './database-builder.js';
import type { ProvisioningContext } from './provisioning-context.js';
import { deleteTenantRows } from './tenant-rows.js';

/** How long a delete waits for every serving instance to confirm it refuses the tenant, in ms. */
const DELETE_CONFIRM_TIMEOUT_MS = 10000;
/** How long a shard tenant's delete waits for transactions begun before it, in ms. */
const DELETE_DRAIN_TIMEOUT_MS = 30000;

export interface CreateTenantInput {
  id: string;
  tier: string;
  name?: string;
  /** Pins the tenant to a region: it is only ever placed on servers of it. Absent or null: unpinned. */
  region?: string | null;
}

const NAME_MAX = 200;

/**
 * Creates and deletes tenants. A tenant is `provisioning` until its placement is ready and migrated; a
 * re-run of a create that died halfway finishes it, and a create that fails removes everything it made.
 */
export class TenantProvisioner {
  readonly #builder: DatabaseBuilder;

  constructor(
    private readonly context: ProvisioningContext,
    /** Where a new tenant goes. */
    private readonly placement: Pick<PlacementPolicy, 'shardFor' | 'serverFor' | 'assertRegionKnown'>,
  ) {
    this.#builder = new DatabaseBuilder(context);
  }

  async create(input: CreateTenantInput, actor: Actor): Promise<TenantRecord> {
    const id = assertSlug(input.id);
    const name = input.name ?? id;
    if (typeof name !== 'string' || name.trim() === '' || name.length > NAME_MAX) {
      throw new InvalidInputError(`tenant name must be 1-${NAME_MAX} characters`, 'invalid_name');
    }
    const region = checkRegion(input.region);
    const { catalog, logger } = this.context;
    const tier = await catalog.getTier(input.tier);
    if (!tier) throw new InvalidInputError(`unknown tier ${JSON.stringify(input.tier)}`, 'unknown_tier');
    await this.placement.assertRegionKnown(region);

    const existing = await catalog.getTenant(id);
    if (
      existing &&
      (existing.status !== 'provisioning' || existing.tier !== tier.id || existing.region !== region)
    ) {
      throw new ConflictError(`tenant ${id} already exists`, 'tenant_exists');
    }
    if (!existing) await catalog.insertTenant({ id, name, tier: tier.id, region });
    logger.info({ tenant: id, tier: tier.id, region, resuming: Boolean(existing) }, 'creating tenant');

    try {
      const placed = { id, region };
      const databaseId =
        tier.placement === 'shard'
          ? await this.#pickShard(existing, placed)
          : await this.#buildDedicated(placed);
      await catalog.updateTenant(id, { databaseId });
      const tenant = await catalog.updateTenant(id, { status: 'active' });
      await catalog.audit(actor, 'tenant.create', id, { tier: tier.id, database: databaseId, region });
      return tenant;
    } catch (error) {
      await this.#forgetFailedCreate(id).catch((cleanupError) =>
        logger.error({ tenant: id, err: cleanupError }, 'cleanup after failed tenant create also failed'),
      );
      throw error;
    }
  }

  async #pickShard(existing: TenantRecord | undefined, tenant: PlacementTenant): Promise<string> {
    if (existing?.databaseId) return existing.databaseId;
    return this.placement.shardFor(tenant);
  }

  async #buildDedicated(tenant: PlacementTenant): Promise<string> {
    const { catalog } = this.context;
    const tenantId = tenant.id;
    const databaseId = dedicatedDatabaseId(tenantId);
    // A create that died halfway finishes on the server it had begun on.
    const resumed = await catalog.getDatabase(databaseId);
    const serverId = resumed?.serverId ?? (await this.placement.serverFor(tenant));
    await this.#builder.build({
      id: databaseId,
      kind: 'dedicated',
      serverId,
      databaseName: dedicatedDatabaseName(this.context.databasePrefix, tenantId),
      ownerTenantId: tenantId,
    });
    return databaseId;
  }

  /** The tenant's own databases in the catalog: `tenant:<id>`, and later generations a move made. */
  async #ownDatabases(tenantId: string): Promise<string[]> {
    const dedicated = await this.context.catalog.listDatabases('dedicated');
    const own = dedicated
      .filter((database) => databaseTenant(database) === tenantId)
      .map((database) => database.id);
    return [...new Set([dedicatedDatabaseId(tenantId), ...own])];
  }

  async #forgetFailedCreate(tenantId: string): Promise<void> {
    const { catalog } = this.context;
    await catalog.updateTenant(tenantId, { databaseId: null });
    await this.#builder.destroy(dedicatedDatabaseId(tenantId));
    await catalog.deleteTenantRow(tenantId);
  }

  /** Suspends (every request refused with 403) or resumes a tenant. */
  async setStatus(tenantId: string, status: 'active' | 'suspended', actor: Actor): Promise<TenantRecord> {
    const tenant = await this.context.catalog.requireTenant(tenantId);
    const allowedFrom = status === 'active' ? ['suspended', 'active'] : ['active', 'suspended'];
    if (!allowedFrom.includes(tenant.status)) {
      throw new ConflictError(`tenant ${tenantId} is ${tenant.status}`, 'invalid_status_change');
    }
    const updated = await this.context.catalog.updateTenant(tenantId, { status });
    await this.context.catalog.audit(
      actor,
      status === 'active' ? 'tenant.resume' : 'tenant.suspend',
      tenantId,
    );
    return updated;
  }

  /**
   * Changes a tenant's tier. Between tiers with the same placement (starter and pro) this is a catalog
   * change; a change of placement copies the tenant's rows and is a move job (see src/moves/move-jobs.ts).
   */
  async setTier(tenantId: string, tierId: string, actor: Actor): Promise<TenantRecord> {
    const { catalog } = this.context;
    const tenant = await catalog.requireTenant(tenantId);
    const [from, to] = await Promise.all([catalog.getTier(tenant.tier), catalog.getTier(tierId)]);
    if (!to) throw new InvalidInputError(`unknown tier ${JSON.stringify(tierId)}`, 'unknown_tier');
    if (from?.placement !== to.placement) {
      throw new ConflictError(
        `moving ${tenantId} from ${from?.placement} to ${to.placement} copies its rows: request it as a move (changeTier)`,
        'placement_move_required',
      );
    }
    const updated = await catalog.updateTenant(tenantId, { tier: to.id });
    await catalog.audit(actor, 'tenant.set_tier', tenantId, { from: tenant.tier, to: to.id });
    return updated;
  }

  /**
   * Removes a tenant's rows from its shard, or drops its dedicated database, once every serving instance
   * has confirmed it refuses the tenant and (on a shard) the transactions begun before have ended.
   * Re-running finishes it.
   */
  async delete(input: { id: string; confirm: string | undefined }, actor: Actor): Promise<TenantRecord> {
    const id = assertSlug(input.id);
    if (input.confirm !== id) {
      throw new InvalidInputError(`deleting a tenant needs --confirm ${id}`, 'confirmation_required');
    }
    const { catalog, logger } = this.context;
    const tenant = await catalog.requireTenant(id);
    // Every router stops serving the tenant from here on (the catalog notifies them)...
    await catalog.updateTenant(id, { status: 'deleting' });
    await waitForConfirmations(catalog.knex, await currentXid(catalog.knex), {
      timeoutMs: DELETE_CONFIRM_TIMEOUT_MS,
    });
    const database = tenant.databaseId ? await catalog.getDatabase(tenant.databaseId) : undefined;
    if (database?.kind === 'shard') {
      const url = await catalog.serverAdminUrl(database.serverId, database.databaseName);
      const { appRole } = await catalog.requireServer(database.serverId);
      const removed = await withAdminClient(url, async (client) => {
        // ...and once the writes that passed their check before that have ended, none can bring a row back.
        await waitForOlderTransactions(client, database.databaseName, appRole, DELETE_DRAIN_TIMEOUT_MS);
        return deleteTenantRows(client, id);
      });
      logger.info({ tenant: id, shard: database.id, removed }, 'tenant rows removed from shard');
    }
    await catalog.updateTenant(id, { databaseId: null });
    // Found by their ids, derived from the tenant's, so a re-run after a failed drop still finds them.
    for (const own of await this.#ownDatabases(id)) await this.#builder.destroy(own);
    const deleted = await catalog.updateTenant(id, { status: 'deleted' });
    await catalog.audit(actor, 'tenant.delete', id, { database: database?.id ?? null });
    return deleted;
  }
}
