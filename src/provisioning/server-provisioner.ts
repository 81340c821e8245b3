import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Actor } from '../catalog/catalog.js';
import type { ServerRecord } from '../catalog/records.js';
import { ConflictError, InvalidInputError } from '../errors.js';
import { appRoleName, assertSlug, quoteIdent } from '../ids.js';
import { redactUrl } from '../logging/logger.js';
import { withAdminClient } from './admin-connection.js';
import type { ProvisioningContext } from './provisioning-context.js';

export interface AddServerInput {
  id: string;
  adminUrl: string;
  /** Connection budget for all of tenantplane on this server. Default: 80% of its max_connections. */
  maxConnections?: number;
}

function parseAdminUrl(adminUrl: string): URL {
  let url: URL;
  try {
    url = new URL(adminUrl);
  } catch {
    throw new InvalidInputError('--url must be a postgres:// URL', 'invalid_url');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new InvalidInputError('--url must be a postgres:// URL', 'invalid_url');
  }
  if (!url.hostname || !url.username)
    throw new InvalidInputError('--url needs a host and a user', 'invalid_url');
  return url;
}

/** Registers PostgreSQL servers and creates on each the non-owner role that serves application traffic. */
export class ServerProvisioner {
  constructor(private readonly context: ProvisioningContext) {}

  async add(input: AddServerInput, actor: Actor): Promise<ServerRecord> {
    const id = assertSlug(input.id, 'server id');
    const url = parseAdminUrl(input.adminUrl);
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
    const { maxConnections, createdRole } = await withAdminClient(url.toString(), async (client) => {
      const { rows } = await client.query<{
        rolcreatedb: boolean;
        rolcreaterole: boolean;
        rolsuper: boolean;
      }>('SELECT rolcreatedb, rolcreaterole, rolsuper FROM pg_roles WHERE rolname = current_user');
      const me = rows[0];
      if (!me || !(me.rolsuper || (me.rolcreatedb && me.rolcreaterole))) {
        throw new InvalidInputError(
          'the admin user needs CREATEDB and CREATEROLE',
          'insufficient_privileges',
        );
      }
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
        host: url.hostname,
        port: Number(url.port || 5432),
        adminUrl: url.toString(),
        appRole,
        appPassword,
        maxConnections,
      });
      await catalog.audit(actor, 'server.add', null, {
        server: id,
        url: redactUrl(url.toString()),
        maxConnections,
      });
      logger.info({ server: id, maxConnections }, 'server registered');
      return server;
    } catch (error) {
      // Nothing half-made: the role goes if the catalog row could not be written.
      if (createdRole) {
        await withAdminClient(url.toString(), (client) =>
          client.query(`DROP ROLE IF EXISTS ${quoteIdent(appRole)}`),
        );
      }
      throw error;
    }
  }
}
