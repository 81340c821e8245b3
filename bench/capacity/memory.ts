/**
 * What the capacity model in docs/connection-budget.md takes as inputs, measured on this machine:
 * - the router's memory per open connection (JS heap and process RSS), from ElasticPool itself;
 * - the memory PostgreSQL spends per backend (proportional set size from /proc, so shared buffers are
 *   split between the processes that map them), which needs the server on this machine;
 * - the catalog cache's memory per cached tenant route, from an LRU of routes shaped like the catalog's.
 *
 * Run with `npm run bench:capacity` (node is started with --expose-gc so each figure is taken after a
 * full collection). Flags: --connections N (default 60), --routes N (default 100000).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { LRUCache } from 'lru-cache';
import type { TenantRoute, TierQuota } from '../../src/catalog/records.js';
import { createLogger } from '../../src/logging/logger.js';
import { ElasticPool, type PooledClient } from '../../src/routing/elastic-pool.js';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '60' },
    routes: { type: 'string', default: '100000' },
  },
});
const connections = Number(values.connections);
/** The sample application's starter quotas; routes of one tier share the list, as the catalog's do. */
const SAMPLE_QUOTAS: readonly TierQuota[] = [
  { name: 'deployments', counts: 'rows:deployments', max: 100 },
  { name: 'users', counts: 'rows:users', max: 10 },
  { name: 'workflows', counts: 'rows:workflows', max: 100 },
  { name: 'storage_bytes', counts: 'storage_bytes', max: 1e9 },
];
const routes = Number(values.routes);
if (!(Number.isInteger(connections) && connections > 0 && Number.isInteger(routes) && routes > 0)) {
  console.error('--connections and --routes must be positive integers');
  process.exit(2);
}
const url = new URL(process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const collect = (globalThis as { gc?: () => void }).gc;
if (!collect) {
  console.error('run with node --expose-gc (npm run bench:capacity does)');
  process.exit(2);
}

function memory(): { heap: number; rss: number } {
  collect!();
  collect!();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, rss: usage.rss };
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

async function routerConnections(): Promise<void> {
  const pool = new ElasticPool({
    credentials: async () => ({ host: url.hostname, port: Number(url.port || 5432), user: url.username }),
    logger: createLogger('silent'),
    applicationName: 'tenantplane-capacity',
  });
  const database = url.pathname.slice(1) || 'postgres';
  const before = memory();
  const clients: PooledClient[] = [];
  // One connection per "database" id (all on the same real database): each gets a pool of its own.
  for (let i = 0; i < connections; i++) {
    clients.push(
      await pool.connect({
        databaseId: `capacity-${i}`,
        databaseName: database,
        serverId: 'capacity',
        poolSize: 1,
        serverBudget: connections,
      }),
    );
  }
  for (const client of clients) await client.query('SELECT 1');
  const pids = await Promise.all(
    clients.map(
      async (client) => (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid,
    ),
  );
  for (const client of clients) client.release();
  const after = memory();
  console.log(`router, per open connection (${connections} open):`);
  console.log(
    `  JS heap ${kib((after.heap - before.heap) / connections)}, process RSS ${kib((after.rss - before.rss) / connections)}`,
  );
  const pss = await Promise.all(pids.map(backendPss));
  const measured = pss.filter((value): value is number => value !== undefined);
  if (measured.length > 0) {
    measured.sort((a, b) => a - b);
    console.log(
      `PostgreSQL, per idle backend after one query (proportional set size, ${measured.length} backends): median ${kib(measured[Math.floor(measured.length / 2)]!)}`,
    );
  } else {
    console.log(
      'PostgreSQL per-backend memory: not readable here (/proc of the server is not on this machine)',
    );
  }
  await pool.close();
}

async function backendPss(pid: number): Promise<number | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    const match = /^Pss:\s+(\d+) kB/m.exec(text);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** A tier's default feature flags; routes with the same effective flags share one object, as the catalog's do. */
const TIER_FEATURES = Object.freeze({ 'audit-export': false, 'beta-ui': true });

function cachedRoutes(): void {
  const before = memory();
  const cache = new LRUCache<string, { route: TenantRoute | undefined }>({ max: routes, ttl: 30000 });
  for (let i = 0; i < routes; i++) {
    const tenantId = `tenant-${i.toString().padStart(7, '0')}`;
    const shard = i % 50;
    // Strings built per entry, as rows from the catalog arrive.
    cache.set(tenantId, {
      route: {
        tenantId,
        status: 'active',
        tier: ['starter', 'pro', 'enterprise'][i % 3]!,
        placement: 'shard',
        poolSize: 10,
        databaseId: `shard-${shard}`.slice(0),
        databaseName: `tp_s_shard_${shard}`.slice(0),
        serverId: `pg-${shard % 5}`.slice(0),
        serverMaxConnections: 80,
        limits: { requestsPerMinute: 600, quotas: SAMPLE_QUOTAS },
        features: TIER_FEATURES,
      },
    });
  }
  const after = memory();
  console.log(`catalog cache, per cached route (${routes} cached):`);
  console.log(`  JS heap ${kib((after.heap - before.heap) / routes)}`);
  if (cache.size !== routes) throw new Error('the cache did not keep every route');
}

await routerConnections();
cachedRoutes();
