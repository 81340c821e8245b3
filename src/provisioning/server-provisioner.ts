import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Actor } from '../catalog/catalog.js';
import {
  checkServerUrl,
  describeConnectFailure,
  loadServerTls,
  redactServerUrl,
  type ServerUrl,
  sslFor,
  summarizeTls,
  type TlsSummary,
} from '../catalog/connection-config.js';
import type { ServerRecord } from '../catalog/records.js';
import { ConflictError, InvalidInputError, SQLSTATE, UnavailableError } from '../errors/index.js';
import { appRoleName, assertSlug, quoteIdent } from '../ids.js';
import { checkRegion } from '../placement/region.js';
import { withAdminClient } from './admin-connection.js';
import type { ProvisioningContext } from './provisioning-context.js';

export interface AddServerInput {
  id: string;
  /** postgres:// URL of a role with CREATEDB and CREATEROLE; its TLS parameters apply to every connection. */
  adminUrl: string;
  /** Connection budget for all of tenantplane on this server. Default: 80% of its max_connections. */
  maxConnections?: number;
  /** The server's region: tenants pinned to it are placed only on its servers. Absent or null: none. */
  region?: string | null;
}

export interface UpdateServerInput {
  id: string;
  /** The server's new admin URL: a rotated password, a new CA, another endpoint of the same server. */
  adminUrl: string;
}

/** A server with the TLS settings of its admin URL (never its password). */
export type ServerWithTls = ServerRecord & { tls: TlsSummary };

async function assertAdminPrivileges(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{
    rolcreatedb: boolean;
    rolcreaterole: boolean;
    rolsuper: boolean;
  }>('SELECT rolcreatedb, rolcreaterole, rolsuper FROM pg_roles WHERE rolname = current_user');
  const me = rows[0];
  if (!me || !(me.rolsuper || (me.rolcreatedb && me.rolcreaterole))) {
    throw new InvalidInputError('the admin user needs CREATEDB and CREATEROLE', 'insufficient_privileges');
  }
}

/** A connection failure with the new URL, saying that nothing was changed. */
async function unchangedOnFailure<T>(id: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof UnavailableError && error.code === 'server_unreachable') {
      throw new UnavailableError(
        `${error.message}; the admin URL of server ${id} is unchanged`,
        'server_unreachable',
        { cause: error },
      );
    }
    throw error;
  }
}

function mismatch(id: string, url: ServerUrl, why: string): ConflictError {
  return new ConflictError(
    `${url.host}:${url.port} is not server ${id}: ${why}; the admin URL of server ${id} is unchanged`,
    'server_mismatch',
  );
}

/** Registers PostgreSQL servers and creates on each the non-owner role that serves application traffic. */
export class ServerProvisioner {
  constructor(private readonly context: ProvisioningContext) {}

  async add(input: AddServerInput, actor: Actor): Promise<ServerWithTls> {
    const id = assertSlug(input.id, 'server id');
    const url = checkServerUrl(input.adminUrl);
    const adminUrl = new URL(input.adminUrl).toString();
    const region = checkRegion(input.region);
    if (
      input.maxConnections !== undefined &&
      !(Number.isInteger(input.maxConnections) && input.maxConnections > 0)
    ) {
      throw new InvalidInputError('--max-connections must be a positive integer');
    }
    const { catalog, logger } = this.context;
    if (await catalog.getServer(id))
      throw new ConflictError(`server ${id} is already registered`, 'server_exists');

    const appRole = appRoleName(this.context.databasePrefix, id);
    const appPassword = randomBytes(24).toString('base64url');
    const { maxConnections, createdRole } = await withAdminClient(adminUrl, async (client) => {
      await assertAdminPrivileges(client);
      const setting = await client.query<{ max_connections: string }>('SHOW max_connections');
      const budget =
        input.maxConnections ?? Math.max(1, Math.floor(Number(setting.rows[0]!.max_connections) * 0.8));
      const existing = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [appRole]);
      // The password is random base64url, so it cannot break out of the literal; escapeLiteral anyway.
      const attributes = `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT PASSWORD ${pg.escapeLiteral(appPassword)}`;
      if (existing.rowCount === 0) await client.query(`CREATE ROLE ${quoteIdent(appRole)} ${attributes}`);
      else await client.query(`ALTER ROLE ${quoteIdent(appRole)} ${attributes}`);
      return { maxConnections: budget, createdRole: existing.rowCount === 0 };
    });

    try {
      const server = await catalog.insertServer({
        id,
        host: url.host,
        port: url.port,
        adminUrl,
        appRole,
        appPassword,
        maxConnections,
        region,
      });
      const tls = summarizeTls(url.tls);
      await catalog.audit(actor, 'server.add', null, {
        server: id,
        url: redactServerUrl(adminUrl),
        maxConnections,
        region,
        sslmode: tls.sslmode,
      });
      logger.info({ server: id, maxConnections, region, sslmode: tls.sslmode }, 'server registered');
      return { ...server, tls };
    } catch (error) {
      // Nothing half-made: the role goes if the catalog row could not be written.
      if (createdRole) {
        await withAdminClient(adminUrl, (client) =>
          client.query(`DROP ROLE IF EXISTS ${quoteIdent(appRole)}`),
        );
      }
      throw error;
    }
  }

  /**
   * Replaces a server's admin URL without touching its databases. The new URL must work (its TLS settings
   * included) and reach the same server: one that holds every ready database the catalog places there and
   * the server's application role, and where that role signs in with its password over the new settings,
   * as the routers will. Anything else leaves the old URL in place. Every instance hears of the change
   * through the catalog's NOTIFY and uses the new settings for its new connections; open ones stay.
   */
  async update(input: UpdateServerInput, actor: Actor): Promise<ServerWithTls> {
    const id = assertSlug(input.id, 'server id');
    const url = checkServerUrl(input.adminUrl);
    const adminUrl = new URL(input.adminUrl).toString();
    const { catalog, logger } = this.context;
    const before = await catalog.requireServer(id);
    const databases = (await catalog.listDatabases())
      .filter((database) => database.serverId === id && database.status === 'ready')
      .map((database) => database.databaseName);
    const app = await catalog.serverAppRole(id);

    const adminDatabase = await unchangedOnFailure(
      id,
      withAdminClient(adminUrl, async (client) => {
        await assertAdminPrivileges(client);
        const { rows } = await client.query<{ standby: boolean; database: string }>(
          'SELECT pg_is_in_recovery() AS standby, current_database() AS database',
        );
        if (rows[0]!.standby) {
          throw new ConflictError(
            `${url.host}:${url.port} is a standby (in recovery): give the primary's URL; the admin URL of server ${id} is unchanged`,
            'server_in_recovery',
          );
        }
        const found = await client.query<{ datname: string }>(
          'SELECT datname FROM pg_database WHERE datname = ANY($1)',
          [databases],
        );
        const present = new Set(found.rows.map((row) => row.datname));
        const missing = databases.filter((name) => !present.has(name));
        if (missing.length > 0) {
          const shown = missing.slice(0, 5).join(', ') + (missing.length > 5 ? ', …' : '');
          throw mismatch(
            id,
            url,
            `it has no database ${shown} (${missing.length} of ${databases.length} missing)`,
          );
        }
        const role = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [app.user]);
        if (role.rowCount === 0) throw mismatch(id, url, `it has no role ${app.user}`);
        return rows[0]!.database;
      }),
    );
    await this.#checkAppSignIn(id, url, app, databases[0] ?? adminDatabase);

    const server = await catalog.updateServerConnection(id, { host: url.host, port: url.port, adminUrl });
    const tls = summarizeTls(url.tls);
    await catalog.audit(actor, 'server.update', null, {
      server: id,
      url: redactServerUrl(adminUrl),
      previous: { host: before.host, port: before.port },
      sslmode: tls.sslmode,
    });
    logger.info({ server: id, sslmode: tls.sslmode }, 'server admin URL replaced');
    return { ...server, tls };
  }

  /**
   * The application role signs in over the new URL's host, port and TLS settings, as the routers' pools
   * will. Its password is random and known only to the catalog, so a server that accepts it is the one the
   * role was made on (or a copy of it); one that refuses it is another server.
   */
  async #checkAppSignIn(
    id: string,
    url: ServerUrl,
    app: { user: string; password: string },
    database: string,
  ): Promise<void> {
    const client = new pg.Client({
      host: url.host,
      port: url.port,
      user: app.user,
      password: app.password,
      database,
      ssl: await sslFor(await loadServerTls(url.tls), url.host, url.port),
      connectionTimeoutMillis: 5000,
    });
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (error) {
      const code = (error as { code?: string }).code;
      // Signed in, then refused the database: the password was accepted, which is what is checked here.
      if (code === SQLSTATE.insufficientPrivilege) return;
      if (code === SQLSTATE.invalidPassword)
        throw mismatch(id, url, `it refuses the password of role ${app.user}`);
      throw new UnavailableError(
        `the application role ${app.user} cannot connect with the new settings: ${describeConnectFailure(error, url.tls)}; the admin URL of server ${id} is unchanged`,
        'server_unreachable',
        { cause: error },
      );
    } finally {
      await client.end().catch(() => {});
    }
  }
}
