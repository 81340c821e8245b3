import type { Knex } from 'knex';
import type pg from 'pg';
import type { FeatureFlags, Placement, TenantLimits } from '../catalog/records.js';
import { ConnectionStateError, isSqlState, SQLSTATE_CLASS } from '../errors/index.js';
import { leavesSessionUncertain, queryAsTenant } from '../tenant-session/tenant-scoped-query.js';
import { beginAsTenantStatement } from '../tenant-session/tenant-setting.js';
import { chargeDatabaseTime } from '../usage/request-usage.js';
import type { ElasticPool, PoolTarget } from './elastic-pool.js';

/** The slice of a pg client that knex's `.connection()` needs. */
interface KnexConnection {
  query(config: pg.QueryConfig, callback: (error: Error | null, result?: pg.QueryResult) => void): void;
}

/** How TenantDatabase.query runs a statement. */
export interface StatementOptions {
  /**
   * Prepares the statement once per connection under this name: give it only to statements from a small
   * fixed set, since each name stays prepared on the server connection.
   */
  name?: string;
  /** Type parsers for the result's columns, such as JSON_READY_TYPES; default pg's. */
  types?: pg.CustomTypesConfig;
}

/** A knex query builder factory whose queries run as one tenant. */
export type TenantKnex = (table: string) => Knex.QueryBuilder;

/**
 * One tenant's view of its database, as returned by `router.forTenant(id)`.
 *
 * On a shard every statement runs in a transaction that first sets `tenantplane.tenant_id` with
 * `set_config(..., true)`, so nothing about the tenant outlives the transaction on the pooled connection.
 * A single statement costs one round trip (see TenantScopedQuery). On a dedicated database each connection
 * of its pool was bound to the tenant when it was opened (`-c tenantplane.tenant_id=<id>` in its startup
 * packet, see PoolTarget.tenantId), so statements run as they are. Either way row-level security holds the
 * boundary, and the service's own queries filter on tenant_id too.
 */
export class TenantDatabase {
  #knex: TenantKnex | undefined;
  #guard: (() => Promise<void> | undefined) | undefined;

  constructor(
    readonly tenantId: string,
    readonly placement: Placement,
    private readonly target: PoolTarget,
    private readonly pools: ElasticPool,
    private readonly builder: Knex,
    /** The tenant's tier and limits as the router found them (cached with its route). */
    readonly tier: string,
    readonly limits: TenantLimits,
    /** The tenant's effective feature flags, cached with its route (frozen: read them, do not change them). */
    readonly features: FeatureFlags,
  ) {}

  /**
   * Sets a check run before each statement or transaction, once a connection is in hand: the router uses
   * it to refuse a handle whose tenant was paused or moved after the handle was made.
   */
  guardedBy(guard: () => Promise<void> | undefined): this {
    this.#guard = guard;
    return this;
  }

  /** Runs the guard; a refusal hands the unused connection back. */
  async #checkGuard(client: pg.PoolClient): Promise<void> {
    const pending = this.#guard?.();
    if (pending === undefined) return;
    try {
      await pending;
    } catch (error) {
      client.release();
      throw error;
    }
  }

  /** Build queries with `db.knex('deployments').where(...)`; awaiting one runs it as this tenant. */
  get knex(): TenantKnex {
    // Built on first use: most requests run plain statements and never need it.
    this.#knex ??= (() => {
      const connection: KnexConnection = {
        query: (config, callback) => {
          this.query(config.text, config.values as unknown[]).then(
            (result) => callback(null, result),
            (error: Error) => callback(error),
          );
        },
      };
      return (table: string) => this.builder(table).connection(connection as never);
    })();
    return this.#knex;
  }

  get databaseId(): string {
    return this.target.databaseId;
  }

  /** Runs one parameterised statement as this tenant. */
  async query<R extends pg.QueryResultRow = Record<string, unknown>>(
    text: string,
    values: unknown[] = [],
    options: StatementOptions = {},
  ): Promise<pg.QueryResult<R>> {
    const statement: pg.QueryConfig = { text, values, ...options };
    const client = await this.pools.connect(this.target);
    await this.#checkGuard(client);
    if (this.placement === 'dedicated')
      return runAndRelease(client, () => runStatement<R>(client, statement));
    return runAndRelease(client, () =>
      queryAsTenant<R>(client, this.tenantId, statement).catch((error: unknown) => {
        throw leavesSessionUncertain(error) ? new ConnectionStateError(error) : error;
      }),
    );
  }

  /**
   * Runs `work` in one transaction as this tenant. Use the `trx` it receives (its `knex` and `query`), not
   * this object, inside the callback.
   */
  async transaction<T>(work: (trx: TenantTransaction) => Promise<T>): Promise<T> {
    const client = await this.pools.connect(this.target);
    await this.#checkGuard(client);
    return runAndRelease(client, async () => {
      await client.query(beginAsTenantStatement(this.tenantId));
      try {
        const value = await work(new TenantTransaction(this.tenantId, client, this.builder));
        await client.query('COMMIT');
        return value;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError) => {
          throw new ConnectionStateError(rollbackError);
        });
        throw error;
      }
    });
  }
}

/** The handle passed to `TenantDatabase.transaction` callbacks; all its statements share one transaction. */
export class TenantTransaction {
  readonly knex: TenantKnex;

  constructor(
    readonly tenantId: string,
    private readonly client: pg.PoolClient,
    builder: Knex,
  ) {
    const connection: KnexConnection = {
      query: (config, callback) => {
        client.query(config.text, config.values as unknown[]).then(
          (result) => callback(null, result),
          (error: Error) => callback(error),
        );
      },
    };
    this.knex = (table) => builder(table).connection(connection as never);
  }

  query<R extends pg.QueryResultRow = Record<string, unknown>>(
    text: string,
    values: unknown[] = [],
    options: Pick<StatementOptions, 'types'> = {},
  ): Promise<pg.QueryResult<R>> {
    return this.client.query<R>({ text, values, ...options });
  }
}

/** SQLSTATE classes after which the session is gone or cannot be trusted. */
const SESSION_ENDING_CLASSES: readonly string[] = [
  SQLSTATE_CLASS.connectionException,
  SQLSTATE_CLASS.operatorIntervention,
  SQLSTATE_CLASS.internalError,
];

/** An error PostgreSQL raised for a statement, after which the session itself is still sound. */
function isStatementError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return isSqlState(code) && !SESSION_ENDING_CLASSES.includes(code.slice(0, 2));
}

/**
 * pg's callback API, wrapped in a promise. With pg's own promise API the result stays reachable for longer:
 * under load a page's rows survived young-generation collections and were promoted, and garbage collection
 * took a visibly larger share of the service's time. With the callback they die young.
 */
function runStatement<R extends pg.QueryResultRow>(
  client: pg.PoolClient,
  statement: pg.QueryConfig,
): Promise<pg.QueryResult<R>> {
  return new Promise((resolve, reject) => {
    client.query<R>(statement, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

async function runAndRelease<T>(client: pg.PoolClient, work: () => Promise<T>): Promise<T> {
  const held = performance.now();
  try {
    const value = await work();
    client.release();
    chargeDatabaseTime(held);
    return value;
  } catch (error) {
    chargeDatabaseTime(held);
    // A statement error leaves the connection clean (its transaction was rolled back); anything else may
    // not, so that connection is destroyed rather than handed to the next tenant.
    const clean = !(error instanceof ConnectionStateError) && isStatementError(error);
    client.release(clean ? undefined : (error as Error));
    throw error instanceof ConnectionStateError ? (error.cause as Error) : error;
  }
}
