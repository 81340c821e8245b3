import pg from 'pg';
import { SET_TENANT_SQL } from './tenant-setting.js';

/**
 * Sets the tenant for the transaction it runs in. Prepared once per connection under this name; the
 * tenant id is its parameter, so nothing about it is ever spliced into SQL.
 */
const SET_TENANT = {
  name: 'tenantplane_set_tenant',
  text: SET_TENANT_SQL,
};

/** The protocol calls of pg's connection that a query makes (pg's Connection is untyped in @types/pg). */
interface ProtocolConnection {
  parsedStatements: Record<string, string | undefined>;
  submittedNamedStatements: Record<string, string | undefined>;
  parse(message: { name?: string; text: string; types?: unknown[] }): void;
  bind(message: {
    statement?: string;
    portal?: string;
    values?: unknown[];
    binary?: boolean;
    valueMapper?: (value: unknown) => unknown;
  }): void;
  describe(message: { type: 'P'; name: string }): void;
  execute(message: { portal?: string; rows?: number }): void;
  sync(): void;
}

/** pg's Query with the protocol hooks that its type declarations leave out. */
interface ProtocolQuery {
  name?: string;
  text: string;
  values?: unknown[];
  types?: unknown[];
  binary?: boolean;
  requiresPreparation(): boolean;
  hasBeenParsed(connection: ProtocolConnection): boolean;
  handleDataRow(message: unknown): void;
  handleCommandComplete(message: unknown, connection: ProtocolConnection): void;
  handleError(error: Error, connection: ProtocolConnection): void;
  handleReadyForQuery(connection: ProtocolConnection): void;
}

type QueryCallback = (error: Error | null, result?: pg.QueryResult) => void;

const QueryBase = pg.Query as unknown as new (
  config: pg.QueryConfig,
  values: undefined,
  callback: QueryCallback,
) => ProtocolQuery;

const prepareValue = (pg as unknown as { utils: { prepareValue(value: unknown): unknown } }).utils
  .prepareValue;

/** Connections on which SET_TENANT is known to be prepared (it ran through to completion there). */
const preparedOn = new WeakSet<ProtocolConnection>();

/** Marks an error after which the connection's prepared statements are not known: discard it. */
const SESSION_UNCERTAIN = Symbol('tenantplane.sessionUncertain');

/** Whether a TenantScopedQuery failed in a way that leaves its connection's state unknown. */
export function leavesSessionUncertain(error: unknown): boolean {
  return typeof error === 'object' && error !== null && SESSION_UNCERTAIN in error;
}

/**
 * Runs one statement as a tenant in a single round trip and a single transaction, without BEGIN or
 * COMMIT: the extended protocol runs every message up to a Sync in one implicit transaction, so
 *
 *     [Parse statement] [Parse SET_TENANT] Bind/Execute SET_TENANT  Bind/Describe/Execute statement  Sync
 *
 * sets the tenant with `set_config(..., true)` for that transaction only: the setting ends at the Sync,
 * whether the statement commits or fails (and a failed statement rolls back).
 *
 * The statement's Parse goes first because pg records "parsed" under the query's own name at the first
 * ParseComplete it sees: that one must be the statement's.
 */
export class TenantScopedQuery extends QueryBase {
  /** Until SET_TENANT's CommandComplete arrives, messages belong to it, not to the statement. */
  #settingTenant = true;
  /** Failed before anything but a Sync was sent; the callback has had its error. */
  #abandoned = false;

  constructor(
    private readonly tenantId: string,
    statement: pg.QueryConfig,
    callback: QueryCallback,
  ) {
    super(statement, undefined, callback);
  }

  /**
   * Always the extended protocol: pg would send a statement without parameters as a simple Query, which
   * skips prepare() and with it the tenant.
   */
  override requiresPreparation(): boolean {
    return true;
  }

  /** Called by pg's Query.submit with the stream corked: everything below leaves in one write. */
  prepare(connection: ProtocolConnection): void {
    let values: unknown[] | undefined;
    try {
      values = this.values?.map((value) => prepareValue(value));
    } catch (error) {
      // A value pg cannot encode: only a Sync goes out, so that the connection answers for this query.
      this.#abandoned = true;
      connection.sync();
      this.handleError(error as Error, connection);
      return;
    }
    if (!this.hasBeenParsed(connection)) {
      connection.parse({ text: this.text, name: this.name, types: this.types });
      if (this.name) connection.submittedNamedStatements[this.name] = this.text;
    }
    if (!preparedOn.has(connection)) connection.parse(SET_TENANT);
    connection.bind({ statement: SET_TENANT.name, values: [this.tenantId] });
    connection.execute({});
    connection.bind({ statement: this.name, values, binary: this.binary });
    connection.describe({ type: 'P', name: '' });
    connection.execute({});
    connection.sync();
  }

  override handleDataRow(message: unknown): void {
    // SET_TENANT returns one row (its Execute has no Describe, so no row description either): not ours.
    if (this.#settingTenant) return;
    super.handleDataRow(message);
  }

  override handleCommandComplete(message: unknown, connection: ProtocolConnection): void {
    if (this.#settingTenant) {
      this.#settingTenant = false;
      preparedOn.add(connection);
      return;
    }
    super.handleCommandComplete(message, connection);
  }

  override handleError(error: Error, connection: ProtocolConnection): void {
    // Failing before SET_TENANT completed leaves unknown whether it is now prepared on this connection,
    // so the connection cannot be trusted with the next statement: the caller discards it.
    if (this.#settingTenant && !this.#abandoned) {
      Object.defineProperty(error, SESSION_UNCERTAIN, { value: true });
    }
    super.handleError(error, connection);
  }

  override handleReadyForQuery(connection: ProtocolConnection): void {
    if (this.#abandoned) return;
    super.handleReadyForQuery(connection);
  }
}

/** Runs `statement` as `tenantId` on `client` (see TenantScopedQuery). */
export function queryAsTenant<R extends pg.QueryResultRow>(
  client: pg.PoolClient,
  tenantId: string,
  statement: pg.QueryConfig,
): Promise<pg.QueryResult<R>> {
  return new Promise((resolve, reject) => {
    const query = new TenantScopedQuery(tenantId, statement, (error, result) =>
      error ? reject(error) : resolve(result as pg.QueryResult<R>),
    );
    client.query(query as unknown as pg.Submittable);
  });
}
