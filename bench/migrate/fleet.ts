import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logging/logger.js';
import { DEFAULT_TENANT_MIGRATIONS_DIR } from '../../src/paths.js';
import { Tenantplane } from '../../src/tenantplane.js';
import { TEST_POSTGRES_URL } from '../../test/setup/hooks.js';
import { adminQuery, adminUrlFor } from '../../test/support/test-plane.js';
import { createScope as createBenchScope, type BenchScope as Scope } from '../lib/scope.js';
import { forEachLimit } from './concurrency.js';

const ACTOR = { actor: 'bench-migrate' };
export const SERVER_ID = 'pg-bench';

/** The migration every variant applies: a column with a default and an index, on a table with rows. */
export const MIGRATION_NAME = '0003_bench_region';
export const PREVIOUS_MIGRATION = '0002_row_level_security';
const MIGRATION_UP = `ALTER TABLE deployments ADD COLUMN region text NOT NULL DEFAULT 'eu';
CREATE INDEX deployments_region_idx ON deployments (tenant_id, region);
`;
const MIGRATION_DOWN = `DROP INDEX deployments_region_idx;
ALTER TABLE deployments DROP COLUMN region;
`;

export interface BenchScope extends Scope {
  /** Temp copy of tenant-migrations/ that gets the bench migration once the fleet is built. */
  migrationsDir: string;
}

export async function createScope(): Promise<BenchScope> {
  const scope = await createBenchScope('mb', 'tenantplane-bench-migrate-');
  const migrationsDir = path.join(scope.dataDir, 'tenant-migrations');
  await cp(DEFAULT_TENANT_MIGRATIONS_DIR, migrationsDir, { recursive: true });
  return { ...scope, migrationsDir };
}

export interface FleetDatabase {
  id: string;
  tenantId: string;
  name: string;
  /** Admin URL pointed at this database (the baseline's connection string). */
  url: string;
}

export async function openPlane(scope: BenchScope): Promise<Tenantplane> {
  await adminQuery('postgres', `CREATE DATABASE "${scope.controlDatabase}"`);
  const config = loadConfig({
    CONTROL_DATABASE_URL: adminUrlFor(scope.controlDatabase),
    TENANT_DATABASE_PREFIX: scope.prefix,
    TENANTPLANE_DATA_DIR: scope.dataDir,
    PORT: '0',
  });
  return Tenantplane.open({
    config,
    logger: createLogger(process.env.BENCH_LOG_LEVEL ?? 'warn'),
    tenantMigrationsDir: scope.migrationsDir,
    serveTraffic: false,
  });
}

export interface BuildOptions {
  databases: number;
  rows: number;
  provisionConcurrency: number;
  serverMaxConnections: number;
  onProgress?: (done: number) => void;
}

/**
 * Registers the server, creates one enterprise tenant (so one dedicated database) per `databases`, puts
 * `rows` deployments in each and vacuums them, so every variant meets the same settled table.
 */
export async function buildFleet(tp: Tenantplane, options: BuildOptions): Promise<FleetDatabase[]> {
  await tp.servers.add(
    { id: SERVER_ID, adminUrl: TEST_POSTGRES_URL, maxConnections: options.serverMaxConnections },
    ACTOR,
  );
  const tenantIds = Array.from(
    { length: options.databases },
    (_, i) => `bench-${String(i).padStart(4, '0')}`,
  );
  let done = 0;
  await forEachLimit(tenantIds, options.provisionConcurrency, async (id) => {
    await tp.tenants.create({ id, tier: 'enterprise' }, ACTOR);
    done += 1;
    if (done % 10 === 0 || done === tenantIds.length) options.onProgress?.(done);
  });
  const records = (await tp.catalog.listDatabases('dedicated')).filter(
    (database) => database.status === 'ready',
  );
  if (records.length !== options.databases) {
    throw new Error(`the catalog lists ${records.length} ready databases, wanted ${options.databases}`);
  }
  const fleet = records.map((record) => ({
    id: record.id,
    tenantId: record.id.replace(/^tenant:/, ''),
    name: record.databaseName,
    url: adminUrlFor(record.databaseName),
  }));
  await forEachLimit(fleet, options.provisionConcurrency, async (database) => {
    await withClient(database.url, async (client) => {
      if (options.rows > 0) {
        await client.query(
          `INSERT INTO deployments (tenant_id, project_name, status, url, created_at, updated_at)
           SELECT $1, 'project-' || (g % 40), (ARRAY['queued', 'building', 'ready', 'failed'])[1 + g % 4],
                  'https://' || $1 || '-' || g || '.example.app',
                  now() - g * interval '1 minute', now() - g * interval '1 minute'
             FROM generate_series(1, $2::int) AS g`,
          [database.tenantId, options.rows],
        );
      }
      await client.query('VACUUM (ANALYZE) deployments');
    });
  });
  return fleet;
}

/** Writes the bench migration (and its down) into the temp migrations folder. */
export async function addBenchMigration(scope: BenchScope): Promise<string> {
  await writeFile(path.join(scope.migrationsDir, `${MIGRATION_NAME}.sql`), MIGRATION_UP);
  await writeFile(path.join(scope.migrationsDir, `${MIGRATION_NAME}.down.sql`), MIGRATION_DOWN);
  return readFile(path.join(scope.migrationsDir, `${MIGRATION_NAME}.sql`), 'utf8');
}

export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export interface MigrationState {
  column: boolean;
  index: boolean;
  /** The database's own ledger (tenantplane.schema_migrations) lists the bench migration. */
  recorded: boolean;
}

const STATE_SQL = `SELECT
  EXISTS (SELECT 1 FROM information_schema.columns
           WHERE table_schema = 'public' AND table_name = 'deployments' AND column_name = 'region') AS column,
  to_regclass('public.deployments_region_idx') IS NOT NULL AS index,
  EXISTS (SELECT 1 FROM tenantplane.schema_migrations WHERE name = $1) AS recorded`;

/** How a database's state differs from `expected`: nothing, or one line saying both. */
function stateProblems(database: FleetDatabase, state: MigrationState, expected: MigrationState): string[] {
  const same =
    state.column === expected.column &&
    state.index === expected.index &&
    state.recorded === expected.recorded;
  return same ? [] : [`${database.name}: ${JSON.stringify(state)}, wanted ${JSON.stringify(expected)}`];
}

/** The problems `check` finds in each database, `concurrency` databases at a time. */
async function problemsOf(
  fleet: FleetDatabase[],
  concurrency: number,
  check: (database: FleetDatabase) => Promise<string[]>,
): Promise<string[]> {
  const problems: string[] = [];
  await forEachLimit(fleet, concurrency, async (database) => {
    problems.push(...(await check(database)));
  });
  return problems;
}

/**
 * Checks that every database is in `expected` state (column and index present, row in its ledger or not),
 * then takes the migration off directly (drop index and column, delete the ledger row), untimed. Returns
 * a description of every database that was not as expected.
 */
export async function verifyAndReset(
  fleet: FleetDatabase[],
  expected: MigrationState,
  concurrency: number,
): Promise<string[]> {
  return problemsOf(fleet, concurrency, (database) =>
    withClient(database.url, async (client) => {
      const { rows } = await client.query<MigrationState>(STATE_SQL, [MIGRATION_NAME]);
      const problems = stateProblems(database, rows[0]!, expected);
      if (expected.column) {
        const { rows: counts } = await client.query<{ eu: string; total: string }>(
          `SELECT count(*) FILTER (WHERE region = 'eu')::text AS eu, count(*)::text AS total FROM deployments`,
        );
        if (counts[0]!.eu !== counts[0]!.total) problems.push(`${database.name}: rows without region 'eu'`);
      }
      await client.query('BEGIN');
      await client.query('DROP INDEX IF EXISTS deployments_region_idx');
      await client.query('ALTER TABLE deployments DROP COLUMN IF EXISTS region');
      await client.query('DELETE FROM tenantplane.schema_migrations WHERE name = $1', [MIGRATION_NAME]);
      await client.query('COMMIT');
      return problems;
    }),
  );
}

/** Only checks the state, changing nothing. */
export async function checkState(
  fleet: FleetDatabase[],
  expected: MigrationState,
  concurrency: number,
): Promise<string[]> {
  return problemsOf(fleet, concurrency, async (database) => {
    const { rows } = await adminQuery<MigrationState>(database.name, STATE_SQL, [MIGRATION_NAME]);
    return stateProblems(database, rows[0]!, expected);
  });
}

/** A checkpoint before each timed run, so none of them pays for the previous one's dirty pages. */
export async function checkpoint(): Promise<void> {
  await adminQuery('postgres', 'CHECKPOINT');
}

export async function postgresSettings(): Promise<Record<string, string>> {
  const { rows } = await adminQuery<{ name: string; setting: string }>(
    'postgres',
    `SELECT name, setting FROM pg_settings
      WHERE name IN ('server_version', 'max_connections', 'fsync', 'synchronous_commit', 'shared_buffers',
                     'wal_level', 'max_wal_size')`,
  );
  return Object.fromEntries(rows.map((row) => [row.name, row.setting]));
}
