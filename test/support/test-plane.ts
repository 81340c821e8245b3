import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import type { DevIssuer, MintOptions } from '../../src/auth/dev-issuer.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logging/logger.js';
import { DEFAULT_TENANT_MIGRATIONS_DIR } from '../../src/paths.js';
import { ServingTenantplane, Tenantplane, type TenantplaneOptions } from '../../src/tenantplane.js';
import { TEST_POSTGRES_URL } from '../setup/hooks.js';
import { queryOnce } from './query-once.js';

export const TEST_ACTOR = { actor: 'test' };

export function adminUrlFor(database: string): string {
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function adminQuery<R extends pg.QueryResultRow = Record<string, unknown>>(
  database: string,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  return queryOnce<R>({ connectionString: adminUrlFor(database) }, text, values);
}

type PlaneOptions = Partial<TenantplaneOptions>;

/** The development token issuer of a serving plane (every test plane's, unless a JWKS is configured). */
export function devIssuerOf(tp: ServingTenantplane): DevIssuer {
  if (!tp.devIssuer) throw new Error('this plane verifies tokens from a JWKS: it has no development issuer');
  return tp.devIssuer;
}

/** A tenantplane on its own fresh control database, with its own database-name prefix and data folder. */
export interface TestPlane<P extends Tenantplane = ServingTenantplane> {
  tp: P;
  prefix: string;
  dataDir: string;
  /** Registers the test PostgreSQL as a server (default id `pg-main`). */
  addServer(id?: string, maxConnections?: number): Promise<void>;
  /** Starts the plane's HTTP API (a serving plane's) and answers its base URL. */
  listen(): Promise<string>;
  /** A token from the plane's development issuer (a serving plane's). */
  mint(options: MintOptions): Promise<string>;
  /** Environment for a `tenantctl` child process working on this plane's catalog. */
  cliEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Opens another Tenantplane on the same catalog (a second instance of the service). */
  openAnother(options: PlaneOptions & { serveTraffic: false }): Promise<Tenantplane>;
  openAnother(options: PlaneOptions & { serveTraffic: true }): Promise<ServingTenantplane>;
  openAnother(options?: PlaneOptions & { serveTraffic?: undefined }): Promise<P>;
  close(): Promise<void>;
}

/** The plane, if it serves traffic; what a test asks of a serving plane fails otherwise. */
function serving(tp: Tenantplane): ServingTenantplane {
  if (!(tp instanceof ServingTenantplane)) throw new Error('this test plane was opened without serveTraffic');
  return tp;
}

export function createTestPlane(
  options: PlaneOptions & { serveTraffic: false },
  env?: Record<string, string>,
): Promise<TestPlane<Tenantplane>>;
export function createTestPlane(
  options?: PlaneOptions & { serveTraffic?: true },
  env?: Record<string, string>,
): Promise<TestPlane<ServingTenantplane>>;
export function createTestPlane(
  options?: PlaneOptions,
  env?: Record<string, string>,
): Promise<TestPlane<Tenantplane>>;
export async function createTestPlane(
  options: PlaneOptions = {},
  env: Record<string, string> = {},
): Promise<TestPlane<Tenantplane>> {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const controlDatabase = `${prefix}_control`;
  await adminQuery('postgres', `CREATE DATABASE "${controlDatabase}"`);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tenantplane-test-'));
  const config = loadConfig({
    CONTROL_DATABASE_URL: adminUrlFor(controlDatabase),
    TENANT_DATABASE_PREFIX: prefix,
    TENANTPLANE_DATA_DIR: dataDir,
    PORT: '0',
    ...env,
  });
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const open = (extra: PlaneOptions = {}) => Tenantplane.open({ config, logger, ...options, ...extra });
  const tp = await open();
  const others: Tenantplane[] = [];
  const servers: Server[] = [];
  // Serving unless asked otherwise, as the plane itself: the overloads of TestPlane['openAnother'] say which.
  const openAnother = async (extra?: PlaneOptions) => {
    const another = await open(extra);
    others.push(another);
    return another;
  };
  return {
    tp,
    prefix,
    dataDir,
    async addServer(id = 'pg-main', maxConnections = 40) {
      await tp.servers.add({ id, adminUrl: TEST_POSTGRES_URL, maxConnections }, TEST_ACTOR);
    },
    async listen() {
      const server = await serving(tp).listen(0, '127.0.0.1');
      servers.push(server);
      const address = server.address() as { port: number };
      return `http://127.0.0.1:${address.port}`;
    },
    mint(mintOptions) {
      return devIssuerOf(serving(tp)).mint(mintOptions);
    },
    cliEnv(extra = {}) {
      return {
        ...process.env,
        CONTROL_DATABASE_URL: adminUrlFor(controlDatabase),
        TENANT_DATABASE_PREFIX: prefix,
        TENANTPLANE_DATA_DIR: dataDir,
        ...extra,
      };
    },
    openAnother: openAnother as TestPlane<Tenantplane>['openAnother'],
    async close() {
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
      for (const another of others) await another.close();
      await tp.close();
      await dropEverything(prefix);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A copy of the package's tenant migrations in a temporary folder, for tests that add their own. */
export async function copyOfTenantMigrations(): Promise<string> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'tenant-migrations-'));
  await cp(DEFAULT_TENANT_MIGRATIONS_DIR, directory, { recursive: true });
  return directory;
}

/** Drops every database and role a test plane made: all carry its prefix. */
export async function dropEverything(prefix: string): Promise<void> {
  const databases = await adminQuery<{ datname: string }>(
    'postgres',
    'SELECT datname FROM pg_database WHERE datname LIKE $1',
    [`${prefix}\\_%`],
  );
  for (const { datname } of databases.rows) {
    await adminQuery('postgres', `DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  }
  const roles = await adminQuery<{ rolname: string }>(
    'postgres',
    'SELECT rolname FROM pg_roles WHERE rolname LIKE $1',
    [`${prefix}\\_%`],
  );
  for (const { rolname } of roles.rows) await adminQuery('postgres', `DROP ROLE IF EXISTS "${rolname}"`);
}
