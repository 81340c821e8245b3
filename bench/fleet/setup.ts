import { ROUTER_BUDGET_SHARE } from '../../src/catalog/connection-budget.js';
import { forEachLimit } from '../migrate/concurrency.js';
import {
  BENCH_REQUESTS_PER_MINUTE,
  type BenchPlane,
  type BenchScope,
  type BenchTenant,
  type ControlServer,
  createFleet,
  createPlane,
  insertDeployments,
  SERVER_ID,
} from '../router/fixtures.js';

const ACTOR = { actor: 'bench-fleet' };
const TOKEN_LIFETIME_SECONDS = 6 * 3600;
/** Connections per shard pool of tenantplane (ROUTER_SHARD_POOL_SIZE's default), and of the peer. */
export const SHARD_POOL_SIZE = 10;
/** Enterprise tenants created at a time: each is a CREATE DATABASE plus migrations. */
const DEDICATED_CONCURRENCY = 4;
/** Starter tenants created at a time (catalog rows only). */
const SHARD_CONCURRENCY = 8;

export interface FleetTenant extends BenchTenant {
  placement: 'dedicated' | 'shard';
}

export interface ServerCredentials {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface FleetPlane {
  plane: BenchPlane;
  /** Every tenant: the dedicated ones first (`ent-bench` leading), then the shard ones (`pro-bench` leading). */
  tenants: FleetTenant[];
  /** The warm single-tenant cases' tenants, also part of the fleet. */
  warmShard: FleetTenant;
  warmDedicated: FleetTenant;
  shardDatabases: string[];
  /** The application role's login on the server: tenantplane's pools and PgBouncer both use it. */
  credentials: ServerCredentials;
  /** Connections the router may hold on the server (its share of the registered budget). */
  routerBudget: number;
  seconds: { dedicated: number; shard: number; total: number };
}

export interface FleetSetupOptions {
  dedicated: number;
  shardTenants: number;
  shards: number;
  rows: number;
  serverMaxConnections: number;
}

/**
 * A control database with the local PostgreSQL as server `pg-bench`, `dedicated` enterprise tenants (the
 * router bench's `ent-bench` plus `ded-NNNNN`), `shardTenants` starter and pro tenants (`pro-bench` plus
 * `fleet-NNNNN`) over `shards` shards, `rows` deployments each, a token for every tenant, and every tenant's
 * request rate raised above what the load can send (so rate limits cost what they cost, but refuse nothing).
 * The control database is created on `control`. The setup's own Tenantplane is closed before this returns
 * (`plane.tp` is not usable afterwards).
 */
export async function createFleetPlane(
  scope: BenchScope,
  options: FleetSetupOptions,
  progress: (line: string) => void,
  control?: ControlServer,
): Promise<FleetPlane> {
  const started = performance.now();
  const plane = await createPlane(
    scope,
    {
      rows: options.rows,
      neighbours: 0,
      poolSize: SHARD_POOL_SIZE,
      serverMaxConnections: options.serverMaxConnections,
    },
    control,
  );
  try {
    return await populate(plane, options, progress, started);
  } finally {
    // It serves no traffic and holds no share of the router budget, but its catalog connections would stay
    // open through every case.
    await plane.tp.close();
  }
}

async function populate(
  plane: BenchPlane,
  options: FleetSetupOptions,
  progress: (line: string) => void,
  started: number,
): Promise<FleetPlane> {
  const { tp } = plane;
  const issuer = plane.devIssuer;
  const mint = (tenantId: string) => issuer.mint({ tenantId, expiresInSeconds: TOKEN_LIFETIME_SECONDS });

  const dedicatedIds = Array.from(
    { length: options.dedicated - 1 },
    (_, i) => `ded-${String(i + 1).padStart(5, '0')}`,
  );
  const dedicatedStarted = performance.now();
  const dedicated: FleetTenant[] = [];
  progress(
    `  creating ${options.dedicated} dedicated databases, ${DEDICATED_CONCURRENCY} at a time (ent-bench exists)`,
  );
  await forEachLimit(dedicatedIds, DEDICATED_CONCURRENCY, async (id) => {
    await tp.tenants.create({ id, tier: 'enterprise' }, ACTOR);
    const route = await tp.catalog.tenantRoute(id);
    if (!route) throw new Error(`tenant ${id} has no route`);
    await insertDeployments(route.databaseName, [id], options.rows);
    dedicated.push({
      id,
      token: await mint(id),
      databaseName: route.databaseName,
      poolSize: route.poolSize,
      placement: 'dedicated',
    });
    const done = dedicated.length + 1;
    if (done % 50 === 0 || done === options.dedicated) {
      const seconds = (performance.now() - dedicatedStarted) / 1000;
      progress(`  ${done}/${options.dedicated} dedicated (${(done / seconds).toFixed(1)}/s)`);
    }
  });
  const dedicatedSeconds = (performance.now() - dedicatedStarted) / 1000;

  progress(
    `  creating ${options.shardTenants} shard tenants over ${options.shards} shards, ${SHARD_CONCURRENCY} at a time`,
  );
  const shardStarted = performance.now();
  const fleet = await createFleet(
    plane,
    {
      count: options.shardTenants - 1,
      databases: options.shards,
      concurrency: SHARD_CONCURRENCY,
      rowsPerTenant: options.rows,
    },
    progress,
  );
  const shard: FleetTenant[] = [
    { ...plane.shard, placement: 'shard' },
    ...fleet.tenants.map((tenant) => ({ ...tenant, poolSize: SHARD_POOL_SIZE, placement: 'shard' as const })),
  ];
  const shardSeconds = (performance.now() - shardStarted) / 1000;

  // createPlane raised ent-bench's and pro-bench's rates already; the fleet's top Zipf ranks need it too.
  // In a fixed order (creates finish in any order), so the Zipf ranks fall the same way every run.
  dedicated.sort((a, b) => a.id.localeCompare(b.id));
  dedicated.unshift({ ...plane.dedicated, placement: 'dedicated' });
  const tenants = [...dedicated, ...shard];
  await forEachLimit(tenants, 8, async (tenant) => {
    await tp.catalog.updateTenant(tenant.id, { requestsPerMinute: BENCH_REQUESTS_PER_MINUTE });
  });

  const credentials = await tp.catalog.serverAppCredentials(SERVER_ID);
  return {
    plane,
    tenants,
    warmShard: shard[0]!,
    warmDedicated: dedicated[0]!,
    shardDatabases: [plane.shard.databaseName, ...fleet.databases].filter(
      (name, i, all) => all.indexOf(name) === i,
    ),
    credentials,
    routerBudget: Math.max(1, Math.floor(options.serverMaxConnections * ROUTER_BUDGET_SHARE)),
    seconds: {
      dedicated: dedicatedSeconds,
      shard: shardSeconds,
      total: (performance.now() - started) / 1000,
    },
  };
}
