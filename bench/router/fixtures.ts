import { DevIssuer } from '../../src/auth/dev-issuer.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logging/logger.js';
import { Tenantplane } from '../../src/tenantplane.js';
import { TEST_POSTGRES_URL } from '../../test/setup/hooks.js';
import { adminQuery, adminUrlFor } from '../../test/support/test-plane.js';
import { type BenchScope, createScope as createBenchScope } from '../lib/scope.js';

const ACTOR = { actor: 'bench-router' };
export const SERVER_ID = 'pg-bench';
export const MAIN_SHARD_ID = 'shard-main';
const TOKEN_LIFETIME_SECONDS = 6 * 3600;

export type { BenchScope } from '../lib/scope.js';

export function createScope(): Promise<BenchScope> {
  return createBenchScope('rb', 'tenantplane-bench-');
}

/** One tenant the load generator hits, with where it lives. */
export interface BenchTenant {
  id: string;
  token: string;
  databaseName: string;
  /** Pool size tenantplane uses for this tenant's database; the baseline uses the same. */
  poolSize: number;
}

/**
 * Where a bench's control database lives: by default on the tenant server (the bench's PostgreSQL), or on
 * a PostgreSQL of its own (bench:fleet, as in production).
 */
export interface ControlServer {
  /** A superuser URL of `database` on that server. */
  url(database: string): string;
  /** One statement as the superuser on `database`. */
  query(database: string, text: string): Promise<unknown>;
}

export const TENANT_SERVER_CONTROL: ControlServer = {
  url: adminUrlFor,
  query: (database, text) => adminQuery(database, text),
};

export interface BenchPlane {
  scope: BenchScope;
  /**
   * The setup's Tenantplane, opened with `serveTraffic: false`: it provisions, but holds no router and does
   * not register as a serving instance, so it takes no share of any server's router budget.
   */
  tp: Tenantplane;
  /** The development issuer of the data folder the services share: mints the bench's tokens. */
  devIssuer: DevIssuer;
  controlUrl: string;
  dedicated: BenchTenant;
  shard: BenchTenant;
  neighbours: string[];
  issuer: string;
  audience: string;
  jwks: unknown;
}

/** Env for a `tenantctl serve` child that shares this plane's catalog, prefix and signing key. */
export function serviceEnv(plane: BenchPlane, extra: Record<string, string> = {}): Record<string, string> {
  return {
    CONTROL_DATABASE_URL: plane.controlUrl,
    TENANT_DATABASE_PREFIX: plane.scope.prefix,
    TENANTPLANE_DATA_DIR: plane.scope.dataDir,
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** Redis of the operations comparisons: rate limits counted there, jobs under this plane's prefix. */
export function withRedis(plane: BenchPlane, env: Record<string, string>): Record<string, string> {
  return {
    ...env,
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    JOBS_PREFIX: `bench-${plane.scope.prefix}`,
  };
}

export interface PlaneOptions {
  rows: number;
  neighbours: number;
  poolSize: number;
  serverMaxConnections: number;
}

/**
 * A fresh control database, the bench server registered, one shard with a pro tenant and its neighbours,
 * and one enterprise tenant on its own database; every tenant gets `rows` deployments.
 */
/** The bench tenants' request rate: above anything one machine can send in a minute. */
export const BENCH_REQUESTS_PER_MINUTE = 100_000_000;

export async function createPlane(
  scope: BenchScope,
  options: PlaneOptions,
  control: ControlServer = TENANT_SERVER_CONTROL,
): Promise<BenchPlane> {
  await control.query('postgres', `CREATE DATABASE "${scope.controlDatabase}"`);
  const controlUrl = control.url(scope.controlDatabase);
  const config = loadConfig({
    CONTROL_DATABASE_URL: controlUrl,
    TENANT_DATABASE_PREFIX: scope.prefix,
    TENANTPLANE_DATA_DIR: scope.dataDir,
    PORT: '0',
  });
  // Not a serving instance: one would hold a share of every server's router budget for the whole run, and
  // the measured services would get the rest.
  const tp = await Tenantplane.open({
    config,
    logger: createLogger(process.env.BENCH_LOG_LEVEL ?? 'warn'),
    serveTraffic: false,
  });
  const devIssuer = await DevIssuer.load(scope.dataDir);
  await tp.servers.add(
    { id: SERVER_ID, adminUrl: TEST_POSTGRES_URL, maxConnections: options.serverMaxConnections },
    ACTOR,
  );
  await tp.shards.add({ id: MAIN_SHARD_ID, serverId: SERVER_ID }, ACTOR);

  const dedicatedId = 'ent-bench';
  const shardId = 'pro-bench';
  const neighbours = Array.from({ length: options.neighbours }, (_, i) => `neighbour-${i + 1}`);
  await tp.tenants.create({ id: dedicatedId, tier: 'enterprise' }, ACTOR);
  await tp.tenants.create({ id: shardId, tier: 'pro' }, ACTOR);
  for (const [i, id] of neighbours.entries()) {
    await tp.tenants.create({ id, tier: i % 2 === 0 ? 'pro' : 'starter' }, ACTOR);
  }
  // The load generator sends thousands of requests a second as one tenant, far past any tier's rate: an
  // override keeps every request under the limit, so the rate limiter's cost is measured, not its 429s.
  for (const id of [dedicatedId, shardId]) {
    await tp.catalog.updateTenant(id, { requestsPerMinute: BENCH_REQUESTS_PER_MINUTE });
  }

  const issuer = devIssuer;
  const describe = async (id: string, poolSize?: number): Promise<BenchTenant> => {
    const route = await tp.catalog.tenantRoute(id);
    if (!route) throw new Error(`tenant ${id} has no route`);
    return {
      id,
      token: await issuer.mint({ tenantId: id, expiresInSeconds: TOKEN_LIFETIME_SECONDS }),
      databaseName: route.databaseName,
      poolSize: poolSize ?? route.poolSize,
    };
  };
  const dedicated = await describe(dedicatedId);
  const shard = await describe(shardId, options.poolSize);
  if (dedicated.poolSize !== options.poolSize) {
    process.stderr.write(
      `note: the enterprise tier's pool size is ${dedicated.poolSize}; the baseline's dedicated pool uses it too\n`,
    );
  }

  await insertDeployments(dedicated.databaseName, [dedicatedId], options.rows);
  await insertDeployments(shard.databaseName, [shardId, ...neighbours], options.rows);

  return {
    scope,
    tp,
    devIssuer,
    controlUrl,
    dedicated,
    shard,
    neighbours,
    issuer: issuer.issuer,
    audience: issuer.audience,
    jwks: issuer.jwks(),
  };
}

/**
 * `perTenant` deployments for each tenant, written as the superuser (which row-level security does not
 * apply to), with distinct created_at values spread over the past days.
 */
export async function insertDeployments(databaseName: string, tenantIds: string[], perTenant: number) {
  await adminQuery(
    databaseName,
    `INSERT INTO deployments (tenant_id, project_name, status, url, created_at, updated_at)
     SELECT t.id,
            t.id || '-project-' || n,
            (ARRAY['ready', 'building', 'failed', 'queued'])[1 + n % 4],
            CASE WHEN n % 3 = 0 THEN NULL ELSE 'https://' || t.id || '-' || n || '.example.com' END,
            now() - make_interval(secs => n * 37 + t.ord),
            now() - make_interval(secs => n * 37 + t.ord)
       FROM unnest($1::text[]) WITH ORDINALITY AS t(id, ord), generate_series(1, $2::int) AS n`,
    [tenantIds, perTenant],
  );
  await adminQuery(databaseName, 'ANALYZE deployments');
}

export interface Fleet {
  tenants: BenchTenant[];
  /** Shard id -> number of fleet tenants placed on it. */
  placement: Record<string, number>;
  databases: string[];
  createSeconds: number;
}

export interface FleetOptions {
  count: number;
  /** Shard databases the fleet is spread over. */
  databases: number;
  concurrency: number;
  rowsPerTenant?: number;
  /** Server of the new shards. Default: the bench server. */
  serverId?: string;
  /**
   * Whether the main shard is one of the `databases` (default): then `databases - 1` shards are added. If
   * not, `databases` shards are added and the main shard is held out of placement while the fleet is
   * created, so that every fleet tenant lands on one of the new shards.
   */
  includeMainShard?: boolean;
}

/**
 * `count` starter tenants created through the provisioner with limited concurrency, spread by it over
 * `databases` shards (the main shard plus new ones, or new ones only), two deployments each.
 */
export async function createFleet(
  plane: BenchPlane,
  options: FleetOptions,
  progress: (line: string) => void,
): Promise<Fleet> {
  const { tp } = plane;
  const includeMainShard = options.includeMainShard ?? true;
  const added = includeMainShard ? options.databases - 1 : options.databases;
  for (let i = 1; i <= added; i++) {
    await tp.shards.add({ id: `shard-fleet-${i}`, serverId: options.serverId ?? SERVER_ID }, ACTOR);
  }
  const ids = Array.from({ length: options.count }, (_, i) => `fleet-${String(i + 1).padStart(5, '0')}`);
  const started = performance.now();
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      await tp.tenants.create({ id, tier: 'starter' }, ACTOR);
      done += 1;
      if (done % 250 === 0) progress(`  created ${done}/${ids.length} fleet tenants`);
    }
  };
  // The provisioner places a starter tenant on the least loaded ready shard: a shard that is not ready
  // (here: marked `creating` again for the duration) gets none.
  if (!includeMainShard) await tp.catalog.setDatabaseStatus(MAIN_SHARD_ID, 'creating');
  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    if (!includeMainShard) await tp.catalog.setDatabaseStatus(MAIN_SHARD_ID, 'ready');
  }
  const createSeconds = (performance.now() - started) / 1000;

  const rows = await tp
    .knex('tenants as t')
    .join('databases as d', 'd.id', 't.database_id')
    .whereIn('t.id', ids)
    .select('t.id as tenant_id', 'd.id as database_id', 'd.database_name');
  const byDatabase = new Map<string, { databaseId: string; tenants: string[] }>();
  for (const row of rows as Array<{ tenant_id: string; database_id: string; database_name: string }>) {
    const entry = byDatabase.get(row.database_name) ?? { databaseId: row.database_id, tenants: [] };
    entry.tenants.push(row.tenant_id);
    byDatabase.set(row.database_name, entry);
  }
  const placement: Record<string, number> = {};
  if (!includeMainShard && [...byDatabase.values()].some((entry) => entry.databaseId === MAIN_SHARD_ID)) {
    throw new Error(`fleet tenants were placed on ${MAIN_SHARD_ID}, which was meant to be held out`);
  }
  for (const [databaseName, entry] of byDatabase) {
    placement[entry.databaseId] = entry.tenants.length;
    await insertDeployments(databaseName, entry.tenants, options.rowsPerTenant ?? 2);
  }

  const issuer = plane.devIssuer;
  const databaseOf = new Map(
    (rows as Array<{ tenant_id: string; database_name: string }>).map((row) => [
      row.tenant_id,
      row.database_name,
    ]),
  );
  const tenants: BenchTenant[] = [];
  for (const id of ids) {
    tenants.push({
      id,
      token: await issuer.mint({ tenantId: id, expiresInSeconds: TOKEN_LIFETIME_SECONDS }),
      databaseName: databaseOf.get(id)!,
      poolSize: 0,
    });
  }
  return { tenants, placement, databases: [...byDatabase.keys()].sort(), createSeconds };
}
