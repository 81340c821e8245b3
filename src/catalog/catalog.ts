import type { ConnectionOptions } from 'node:tls';
import type { Knex } from 'knex';
import { ConflictError, InvalidQuotaError, NotFoundError, SQLSTATE } from '../errors/index.js';
import { checkTierQuota } from '../limits/tier-quotas.js';
import {
  loadServerTls,
  parseServerUrl,
  type ServerClientConfig,
  type ServerTls,
  serverClientConfig,
  sslFor,
  summarizeTls,
  type TlsSummary,
} from './connection-config.js';
import { routeFeatures, toFeatureFlags } from './feature-flags.js';
import type {
  DatabaseRecord,
  DatabaseStatus,
  Placement,
  ServerRecord,
  TenantRecord,
  TenantRoute,
  TenantStatus,
  TierQuota,
  TierRecord,
} from './records.js';
import type { SecretBox } from './secret-box.js';
import { applyTenantFilter, type TenantFilter } from './tenant-search.js';

/** One row of the audit log. */
export interface AuditEntry {
  id: number;
  at: Date;
  actor: string;
  action: string;
  tenantId: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
}

/** What an admin action is attributed to, for the audit log. */
export interface Actor {
  actor: string;
  requestId?: string | undefined;
}

interface ServerRow {
  id: string;
  host: string;
  port: number;
  admin_url_sealed: string;
  app_role: string;
  app_password_sealed: string;
  max_connections: number;
  region: string | null;
  draining: boolean;
  created_at: Date;
}

interface AppCredentials {
  host: string;
  port: number;
  user: string;
  password: string;
  tls: ServerTls;
}

function toServer(row: ServerRow): ServerRecord {
  return {
    id: row.id,
    host: row.host,
    port: row.port,
    appRole: row.app_role,
    maxConnections: row.max_connections,
    region: row.region ?? null,
    draining: row.draining ?? false,
    createdAt: row.created_at,
  };
}

function toDatabase(row: Record<string, unknown>): DatabaseRecord {
  return {
    id: row.id as string,
    kind: row.kind as Placement,
    serverId: row.server_id as string,
    databaseName: row.database_name as string,
    status: row.status as DatabaseStatus,
    createdAt: row.created_at as Date,
  };
}

function toTenant(row: Record<string, unknown>): TenantRecord {
  return {
    id: row.id as string,
    name: row.name as string,
    tier: row.tier as string,
    status: row.status as TenantStatus,
    databaseId: (row.database_id as string | null) ?? null,
    requestsPerMinute: (row.requests_per_minute as number | null) ?? null,
    region: (row.region as string | null) ?? null,
    featureOverrides: toFeatureFlags(row.feature_overrides),
    createdAt: row.created_at as Date,
    updatedAt: row.updated_at as Date,
  };
}

function toTier(row: Record<string, unknown>): TierRecord {
  return {
    id: row.id as string,
    placement: row.placement as Placement,
    poolSize: row.pool_size as number,
    requestsPerMinute: row.requests_per_minute as number,
    quotas: toQuotas(row.quotas),
    features: toFeatureFlags(row.features),
  };
}

/** A tier's quotas as the catalog queries below aggregate them (json_agg, so bigint arrives as a number). */
function toQuotas(value: unknown): TierQuota[] {
  return ((value ?? []) as Array<{ name: string; counts: TierQuota['counts']; max: number | null }>).map(
    (quota) => ({ name: quota.name, counts: quota.counts, max: quota.max }),
  );
}

/**
 * Routes of tenants of one tier share one frozen quota list: a router caches a route per tenant, and the
 * lists are as many as the tiers' distinct quota sets.
 */
const sharedQuotas = new Map<string, readonly TierQuota[]>();

function routeQuotas(value: unknown): readonly TierQuota[] {
  const key = JSON.stringify(value ?? []);
  let quotas = sharedQuotas.get(key);
  if (!quotas) {
    quotas = Object.freeze(toQuotas(value).map((quota) => Object.freeze(quota)));
    if (sharedQuotas.size >= 1000) sharedQuotas.clear();
    sharedQuotas.set(key, quotas);
  }
  return quotas;
}

/**
 * The quotas of the tier `tierColumn` names, as one json column: storage last, the others by name. The
 * column names are the callers' own constants, never input.
 */
function quotasColumn(knex: Knex, tierColumn: string): Knex.Raw {
  return knex.raw(
    `(SELECT coalesce(json_agg(json_build_object('name', q.name, 'counts', q.counts, 'max', q.maximum)
        ORDER BY q.name = 'storage_bytes', q.name), '[]')
        FROM tier_quotas q WHERE q.tier = ${tierColumn}) AS quotas`,
  );
}

/**
 * Reads and writes the control-plane catalog. Secrets go in sealed and come out only through the
 * methods whose names say so.
 */
export class Catalog {
  constructor(
    readonly knex: Knex,
    private readonly secrets: SecretBox,
  ) {}

  // --- tiers -------------------------------------------------------------------------------------------

  async listTiers(): Promise<TierRecord[]> {
    return (
      await this.knex('tiers').select('tiers.*', quotasColumn(this.knex, 'tiers.id')).orderBy('pool_size')
    ).map(toTier);
  }

  async getTier(id: string): Promise<TierRecord | undefined> {
    const row = await this.knex('tiers')
      .select('tiers.*', quotasColumn(this.knex, 'tiers.id'))
      .where({ id })
      .first();
    return row ? toTier(row) : undefined;
  }

  /** Replaces all of a tier's quotas, audited; every router drops its routes and reads them anew. */
  async setTierQuotas(tierId: string, quotas: TierQuota[], actor: Actor): Promise<TierRecord> {
    return this.changeTierQuotas(tierId, { replace: true, set: quotas }, actor);
  }

  /**
   * Sets (adds or replaces, by name) and unsets some of a tier's quotas, or with `replace` all of them, in
   * one transaction, audited as `tier.set_quotas` with the quotas before and after.
   */
  async changeTierQuotas(
    tierId: string,
    change: { set?: TierQuota[]; unset?: string[]; replace?: boolean },
    actor: Actor,
  ): Promise<TierRecord> {
    const set = (change.set ?? []).map(checkTierQuota);
    const unset = new Set(change.unset ?? []);
    const names = set.map((quota) => quota.name);
    const twice = names.find((name, index) => names.indexOf(name) !== index || unset.has(name));
    if (twice !== undefined) throw new InvalidQuotaError(`quota ${twice} is given twice`);
    return this.knex.transaction(async (trx) => {
      const tier = await trx('tiers').where({ id: tierId }).forUpdate().first('id');
      if (!tier) throw new NotFoundError(`no tier ${tierId}`, 'unknown_tier');
      const before = toQuotas(
        (await trx('tiers').select(quotasColumn(trx, 'tiers.id')).where({ id: tierId }).first()).quotas,
      );
      const removed = change.replace
        ? before.map((quota) => quota.name).filter((name) => !names.includes(name))
        : [...unset];
      if (removed.length > 0)
        await trx('tier_quotas').where({ tier: tierId }).whereIn('name', removed).delete();
      if (set.length > 0) {
        await trx('tier_quotas')
          .insert(
            set.map((quota) => ({
              tier: tierId,
              name: quota.name,
              counts: quota.counts,
              maximum: quota.max,
            })),
          )
          .onConflict(['tier', 'name'])
          .merge(['counts', 'maximum']);
      }
      const row = await trx('tiers')
        .select('tiers.*', quotasColumn(trx, 'tiers.id'))
        .where({ id: tierId })
        .first();
      const updated = toTier(row);
      await trx('audit_log').insert({
        actor: actor.actor,
        action: 'tier.set_quotas',
        tenant_id: null,
        request_id: actor.requestId ?? null,
        details: JSON.stringify({ tier: tierId, from: before, to: updated.quotas }),
      });
      return updated;
    });
  }

  // --- servers -----------------------------------------------------------------------------------------

  async insertServer(server: {
    id: string;
    host: string;
    port: number;
    adminUrl: string;
    appRole: string;
    appPassword: string;
    maxConnections: number;
    /** The server's region (checked by the caller); null or absent: none. */
    region?: string | null;
  }): Promise<ServerRecord> {
    try {
      const [row] = await this.knex('servers')
        .insert({
          id: server.id,
          host: server.host,
          port: server.port,
          admin_url_sealed: this.secrets.seal(server.adminUrl),
          app_role: server.appRole,
          app_password_sealed: this.secrets.seal(server.appPassword),
          max_connections: server.maxConnections,
          region: server.region ?? null,
        })
        .returning('*');
      return toServer(row as ServerRow);
    } catch (error) {
      if ((error as { code?: string }).code === SQLSTATE.uniqueViolation) {
        throw new ConflictError(`server ${server.id} is already registered`, 'server_exists');
      }
      throw error;
    }
  }

  async getServer(id: string): Promise<ServerRecord | undefined> {
    const row = await this.knex<ServerRow>('servers').where({ id }).first();
    return row ? toServer(row) : undefined;
  }

  async requireServer(id: string): Promise<ServerRecord> {
    const server = await this.getServer(id);
    if (!server) throw new NotFoundError(`no server ${id}`, 'server_not_found');
    return server;
  }

  async listServers(): Promise<ServerRecord[]> {
    return (await this.knex<ServerRow>('servers').orderBy('id')).map(toServer);
  }

  /**
   * Replaces a server's admin URL (and the host and port taken from it). The catalog's trigger tells every
   * instance, which then drops the server's credentials it cached (see forgetServerCredentials).
   */
  async updateServerConnection(
    id: string,
    connection: { host: string; port: number; adminUrl: string },
  ): Promise<ServerRecord> {
    const [row] = await this.knex<ServerRow>('servers')
      .where({ id })
      .update({
        host: connection.host,
        port: connection.port,
        admin_url_sealed: this.secrets.seal(connection.adminUrl),
      })
      .returning('*');
    this.forgetServerCredentials();
    if (!row) throw new NotFoundError(`no server ${id}`, 'server_not_found');
    return toServer(row as ServerRow);
  }

  /**
   * Marks a server draining (it takes no new placements) or not, audited as `server.drain` or
   * `server.undrain` with what it was; answers the server as it is now. Setting what already is changes
   * nothing and audits nothing.
   */
  async setServerDraining(id: string, draining: boolean, actor: Actor): Promise<ServerRecord> {
    return this.knex.transaction(async (trx) => {
      const before = await trx<ServerRow>('servers').where({ id }).forUpdate().first();
      if (!before) throw new NotFoundError(`no server ${id}`, 'server_not_found');
      if (before.draining === draining) return toServer(before);
      const [row] = await trx<ServerRow>('servers').where({ id }).update({ draining }).returning('*');
      await trx('audit_log').insert({
        actor: actor.actor,
        action: draining ? 'server.drain' : 'server.undrain',
        tenant_id: null,
        request_id: actor.requestId ?? null,
        details: JSON.stringify({ server: id, region: before.region }),
      });
      return toServer(row as ServerRow);
    });
  }

  /**
   * The application role's connection settings per server, TLS files read: the router asks for them for
   * every connection it opens. Dropped by forgetServerCredentials when a server row changes.
   */
  readonly #appCredentials = new Map<string, Promise<AppCredentials>>();

  /**
   * Forgets every cached server credential, so the next connection reads the catalog (and the TLS files)
   * again. Called on each catalog change that may touch servers; with a credentials read in flight, that
   * read serves only the connections already waiting for it.
   */
  forgetServerCredentials(): void {
    this.#appCredentials.clear();
  }

  async #serverRow(serverId: string): Promise<ServerRow> {
    const row = await this.knex<ServerRow>('servers').where({ id: serverId }).first();
    if (!row) throw new NotFoundError(`no server ${serverId}`, 'server_not_found');
    return row;
  }

  /**
   * The admin connection URL (with password and TLS parameters) of a server, optionally pointed at another
   * database. Read from the catalog each time: admin connections are few, and a replaced URL applies at once.
   */
  async serverAdminUrl(serverId: string, database?: string): Promise<string> {
    const row = await this.#serverRow(serverId);
    const url = new URL(this.secrets.open(row.admin_url_sealed));
    if (database !== undefined) url.pathname = `/${encodeURIComponent(database)}`;
    return url.toString();
  }

  /** pg settings for an admin connection to a server (see connection-config.ts for its TLS settings). */
  async serverAdminConfig(serverId: string, database?: string): Promise<ServerClientConfig> {
    return serverClientConfig(await this.serverAdminUrl(serverId, database));
  }

  /** The TLS settings of a server's admin URL, without secrets: for listings. */
  async serverTls(serverId: string): Promise<TlsSummary> {
    const row = await this.#serverRow(serverId);
    return summarizeTls(parseServerUrl(this.secrets.open(row.admin_url_sealed)).tls);
  }

  /**
   * Connection settings for the server's application role, the one that serves tenant traffic, with the
   * TLS settings of the server's admin URL.
   */
  async serverAppCredentials(serverId: string): Promise<{
    host: string;
    port: number;
    user: string;
    password: string;
    ssl: false | ConnectionOptions;
  }> {
    let credentials = this.#appCredentials.get(serverId);
    if (!credentials) {
      credentials = this.#readAppCredentials(serverId);
      this.#appCredentials.set(serverId, credentials);
      const cached = credentials;
      cached.catch(() => {
        if (this.#appCredentials.get(serverId) === cached) this.#appCredentials.delete(serverId);
      });
    }
    const { host, port, user, password, tls } = await credentials;
    return { host, port, user, password, ssl: await sslFor(tls, host, port) };
  }

  /** The application role's name and password, without connection settings (no TLS file is read). */
  async serverAppRole(serverId: string): Promise<{ user: string; password: string }> {
    const row = await this.#serverRow(serverId);
    return { user: row.app_role, password: this.secrets.open(row.app_password_sealed) };
  }

  async #readAppCredentials(serverId: string): Promise<AppCredentials> {
    const row = await this.#serverRow(serverId);
    const tls = await loadServerTls(parseServerUrl(this.secrets.open(row.admin_url_sealed)).tls);
    return {
      host: row.host,
      port: row.port,
      user: row.app_role,
      password: this.secrets.open(row.app_password_sealed),
      tls,
    };
  }

  /** Servers with the number of databases on each, fewest first: where the next dedicated database goes. */
  async serverLoads(): Promise<Array<ServerRecord & { databases: number }>> {
    const rows = await this.knex('servers as s')
      .leftJoin('databases as d', 'd.server_id', 's.id')
      .groupBy('s.id')
      .select('s.*', this.knex.raw('count(d.id)::int AS databases'))
      .orderBy([{ column: 'databases', order: 'asc' }, { column: 's.id' }]);
    return rows.map((row: ServerRow & { databases: number }) => ({
      ...toServer(row),
      databases: row.databases,
    }));
  }

  // --- databases ---------------------------------------------------------------------------------------

  async insertDatabase(database: {
    id: string;
    kind: Placement;
    serverId: string;
    databaseName: string;
  }): Promise<DatabaseRecord> {
    try {
      const [row] = await this.knex('databases')
        .insert({
          id: database.id,
          kind: database.kind,
          server_id: database.serverId,
          database_name: database.databaseName,
          status: 'creating',
        })
        .returning('*');
      return toDatabase(row);
    } catch (error) {
      if ((error as { code?: string }).code === SQLSTATE.uniqueViolation) {
        throw new ConflictError(`database ${database.id} already exists`, 'database_exists');
      }
      throw error;
    }
  }

  async getDatabase(id: string): Promise<DatabaseRecord | undefined> {
    const row = await this.knex('databases').where({ id }).first();
    return row ? toDatabase(row) : undefined;
  }

  async listDatabases(kind?: Placement): Promise<DatabaseRecord[]> {
    const query = this.knex('databases').orderBy('id');
    if (kind) query.where({ kind });
    return (await query).map(toDatabase);
  }

  async setDatabaseStatus(id: string, status: DatabaseStatus): Promise<void> {
    await this.knex('databases').where({ id }).update({ status });
  }

  async deleteDatabase(id: string): Promise<void> {
    await this.knex('databases').where({ id }).delete();
  }

  /** Shards with the number of live tenants on each, fewest first. */
  async shardLoads(): Promise<Array<DatabaseRecord & { tenants: number }>> {
    const rows = await this.knex('databases as d')
      .leftJoin('tenants as t', function joinLiveTenants() {
        this.on('t.database_id', 'd.id').andOnNotIn('t.status', ['deleted']);
      })
      .where({ 'd.kind': 'shard', 'd.status': 'ready' })
      .groupBy('d.id')
      .select('d.*', this.knex.raw('count(t.id)::int AS tenants'))
      .orderBy([{ column: 'tenants', order: 'asc' }, { column: 'd.id' }]);
    return rows.map((row: Record<string, unknown>) => ({
      ...toDatabase(row),
      tenants: row.tenants as number,
    }));
  }

  // --- tenants -----------------------------------------------------------------------------------------

  async insertTenant(tenant: {
    id: string;
    name: string;
    tier: string;
    /** The region the tenant is pinned to (checked by the caller); null or absent: unpinned. */
    region?: string | null;
  }): Promise<TenantRecord> {
    try {
      const [row] = await this.knex('tenants')
        .insert({
          id: tenant.id,
          name: tenant.name,
          tier: tenant.tier,
          status: 'provisioning',
          region: tenant.region ?? null,
        })
        .returning('*');
      return toTenant(row);
    } catch (error) {
      if ((error as { code?: string }).code === SQLSTATE.uniqueViolation) {
        throw new ConflictError(`tenant ${tenant.id} already exists`, 'tenant_exists');
      }
      throw error;
    }
  }

  async getTenant(id: string): Promise<TenantRecord | undefined> {
    const row = await this.knex('tenants').where({ id }).first();
    return row ? toTenant(row) : undefined;
  }

  async requireTenant(id: string): Promise<TenantRecord> {
    const tenant = await this.getTenant(id);
    if (!tenant || tenant.status === 'deleted')
      throw new NotFoundError(`no tenant ${id}`, 'tenant_not_found');
    return tenant;
  }

  /** Live tenants in id order, a page at a time (`after`: the last id of the previous page), maybe filtered. */
  async listTenants(options: {
    after?: string;
    limit: number;
    filter?: TenantFilter;
  }): Promise<TenantRecord[]> {
    const query = this.knex('tenants').whereNot({ status: 'deleted' }).orderBy('id').limit(options.limit);
    if (options.after) query.where('id', '>', options.after);
    if (options.filter) applyTenantFilter(query, options.filter);
    return (await query).map(toTenant);
  }

  async updateTenant(
    id: string,
    changes: Partial<{
      name: string;
      tier: string;
      status: TenantStatus;
      databaseId: string | null;
      requestsPerMinute: number | null;
    }>,
  ): Promise<TenantRecord> {
    const update: Record<string, unknown> = { updated_at: this.knex.fn.now() };
    if (changes.requestsPerMinute !== undefined) update.requests_per_minute = changes.requestsPerMinute;
    if (changes.name !== undefined) update.name = changes.name;
    if (changes.tier !== undefined) update.tier = changes.tier;
    if (changes.status !== undefined) {
      update.status = changes.status;
      if (changes.status === 'deleted') update.deleted_at = this.knex.fn.now();
    }
    if (changes.databaseId !== undefined) update.database_id = changes.databaseId;
    const [row] = await this.knex('tenants').where({ id }).update(update).returning('*');
    if (!row) throw new NotFoundError(`no tenant ${id}`, 'tenant_not_found');
    return toTenant(row);
  }

  /** Removes a tenant row outright; only for a create that never finished. */
  async deleteTenantRow(id: string): Promise<void> {
    await this.knex('tenants').where({ id }).delete();
  }

  /** One query for everything the router needs; undefined when the tenant has no placement yet. */
  async tenantRoute(id: string): Promise<TenantRoute | undefined> {
    const row = await this.knex('tenants as t')
      .join('tiers as ti', 'ti.id', 't.tier')
      .join('databases as d', 'd.id', 't.database_id')
      .join('servers as s', 's.id', 'd.server_id')
      .where('t.id', id)
      .first(
        't.id',
        't.status',
        't.tier',
        'ti.pool_size',
        this.knex.raw('COALESCE(t.requests_per_minute, ti.requests_per_minute) AS requests_per_minute'),
        quotasColumn(this.knex, 't.tier'),
        // Computed here, once per read of the route, rather than on each request.
        this.knex.raw('ti.features || t.feature_overrides AS features'),
        'd.id as database_id',
        'd.kind',
        'd.database_name',
        'd.server_id',
        's.max_connections',
      );
    if (!row) return undefined;
    return {
      tenantId: row.id,
      status: row.status,
      tier: row.tier,
      placement: row.kind,
      poolSize: row.pool_size,
      databaseId: row.database_id,
      databaseName: row.database_name,
      serverId: row.server_id,
      serverMaxConnections: row.max_connections,
      limits: { requestsPerMinute: row.requests_per_minute, quotas: routeQuotas(row.quotas) },
      features: routeFeatures(row.features),
    };
  }

  // --- audit -------------------------------------------------------------------------------------------

  async audit(actor: Actor, action: string, tenantId: string | null, details: Record<string, unknown> = {}) {
    await this.knex('audit_log').insert({
      actor: actor.actor,
      action,
      tenant_id: tenantId,
      request_id: actor.requestId ?? null,
      details: JSON.stringify(details),
    });
  }

  /** Audit entries newest first, optionally for one tenant; `before` is the last id of the previous page. */
  async listAudit(options: { tenantId?: string; before?: number; limit: number }): Promise<AuditEntry[]> {
    const query = this.knex('audit_log').orderBy('id', 'desc').limit(options.limit);
    if (options.tenantId !== undefined) query.where({ tenant_id: options.tenantId });
    if (options.before !== undefined) query.where('id', '<', options.before);
    return (await query).map((row: Record<string, unknown>) => ({
      // bigserial arrives as a string; ids stay far below 2^53.
      id: Number(row.id),
      at: row.at as Date,
      actor: row.actor as string,
      action: row.action as string,
      tenantId: (row.tenant_id as string | null) ?? null,
      requestId: (row.request_id as string | null) ?? null,
      details: row.details as Record<string, unknown>,
    }));
  }
}
