/**
 * bench:router's fleet case: 2,000 tenants over more databases than the router may keep connections to, on
 * the same PostgreSQL registered a second time with a small budget, against a warm single tenant served by
 * the same service.
 */

import { ROUTER_BUDGET_SHARE } from '../../src/catalog/connection-budget.js';
import { TEST_POSTGRES_URL } from '../../test/setup/hooks.js';
import { ConnectionSampler } from '../fleet/sampler.js';
import { log, warn } from '../lib/log.js';
import { check } from '../lib/tables.js';
import { failOnErrors, profiling, type RouterRun } from './context.js';
import { createFleet, type Fleet, SERVER_ID } from './fixtures.js';
import type { LoadResult } from './load.js';
import { measure } from './measure.js';
import { checkList } from './pages.js';
import { shuffled } from './random.js';
import { summarize } from './report.js';
import { type Service, startService } from './services.js';

/** The bench's PostgreSQL registered a second time, with a small budget, for the fleet's shards. */
const FLEET_SERVER_ID = 'pg-fleet';
/** The fixed order the fleet's tokens are sent in: consecutive requests hit random databases. */
const TENANT_ORDER_SEED = 20240611;
const WARM_NAME = 'tenantplane-shard-warm@fleet';
const FLEET_NAME = 'tenantplane-fleet';

interface FleetSetup {
  fleet: Fleet;
  /** The application role of the fleet's server, whose connections are counted. */
  role: string;
  /** Connections the router may hold on the fleet's server. */
  routerBudget: number;
  seconds: number;
}

/** The fleet's server registered and its tenants created through the provisioner. */
async function setUpFleet(run: RouterRun): Promise<FleetSetup> {
  const { options, plane } = run;
  const routerBudget = Math.max(1, Math.floor(options.fleetServerMaxConnections * ROUTER_BUDGET_SHARE));
  log(
    `setup: fleet of ${options.fleetTenants} tenants over ${options.fleetDatabases} shards on server ` +
      `${FLEET_SERVER_ID} (the same PostgreSQL, registered again with budget ` +
      `${options.fleetServerMaxConnections}: the router may hold ${routerBudget} connections there), ` +
      `${options.fleetConcurrency} creates at a time`,
  );
  if (routerBudget >= options.fleetDatabases) {
    warn(
      `note: ${routerBudget} router connections for ${options.fleetDatabases} fleet databases: every ` +
        'database can keep a connection, so the fleet case measures no turnover',
    );
  }
  const started = performance.now();
  await plane.tp.servers.add(
    {
      id: FLEET_SERVER_ID,
      adminUrl: TEST_POSTGRES_URL,
      maxConnections: options.fleetServerMaxConnections,
    },
    { actor: 'bench-router' },
  );
  const fleet: Fleet = await createFleet(
    plane,
    {
      count: options.fleetTenants,
      databases: options.fleetDatabases,
      concurrency: options.fleetConcurrency,
      serverId: FLEET_SERVER_ID,
      includeMainShard: false,
    },
    log,
  );
  const role = (await plane.tp.catalog.serverAppCredentials(FLEET_SERVER_ID)).user;
  log(
    `  ${fleet.tenants.length} tenants created in ${fleet.createSeconds.toFixed(1)} s; placement ${JSON.stringify(fleet.placement)}`,
  );
  return { fleet, role, routerBudget, seconds: (performance.now() - started) / 1000 };
}

interface FleetRuns {
  warm: LoadResult[];
  fleet: LoadResult[];
  /** Most router connections on the fleet's server in each fleet run. */
  peaks: number[];
  /** PostgreSQL sessions opened on the fleet's databases in each fleet run. */
  newSessions: number[];
}

/** `--fleet-rounds` rounds of a warm single-tenant run and a fleet run, the order alternating. */
async function runRounds(
  run: RouterRun,
  setup: FleetSetup,
  service: Service,
  tokens: string[],
  sampler: ConnectionSampler,
): Promise<FleetRuns> {
  const { options } = run;
  const { shard } = run.plane;
  const runs: FleetRuns = { warm: [], fleet: [], peaks: [], newSessions: [] };
  const { fleetRounds } = options;
  for (let round = 0; round < fleetRounds; round++) {
    log(`fleet round ${round + 1}/${fleetRounds}`);
    const steps = round % 2 === 0 ? ['warm', 'fleet'] : ['fleet', 'warm'];
    for (const step of steps) {
      if (step === 'warm') {
        runs.warm.push(
          await measure(
            {
              name: WARM_NAME,
              service,
              tokens: [shard.token],
              seconds: options.duration,
              databases: [shard.databaseName],
            },
            options,
          ),
        );
      } else {
        sampler.start();
        try {
          runs.fleet.push(
            await measure(
              {
                name: FLEET_NAME,
                service,
                tokens,
                seconds: options.fleetDuration,
                databases: setup.fleet.databases,
                countEndedBackends: true,
              },
              options,
            ),
          );
        } finally {
          runs.peaks.push(sampler.stop().peak);
        }
        runs.newSessions.push(runs.fleet.at(-1)!.newConnections ?? Number.NaN);
      }
    }
  }
  return runs;
}

/** The fleet's summaries, targets and record. */
function fleetResults(run: RouterRun, setup: FleetSetup, runs: FleetRuns): void {
  const { options, results } = run;
  const { fleet, routerBudget } = setup;
  const warm = summarize(WARM_NAME, runs.warm);
  const fleetSummary = summarize(FLEET_NAME, runs.fleet);
  results.cases.push(warm, fleetSummary);
  failOnErrors(run, [warm]);
  results.targets.push(check('fleet errors + non-2xx', fleetSummary.errors + fleetSummary.non2xx, '==', 0));
  results.targets.push(
    check(
      'p99 fleet / p99 warm single-tenant shard',
      fleetSummary.median.p99 / warm.median.p99,
      '<=',
      3,
      'warm run in the same service, on the bench server',
    ),
  );
  results.targets.push(
    check(
      `peak router connections on ${FLEET_SERVER_ID}`,
      Math.max(...runs.peaks),
      '<=',
      routerBudget,
      `per run ${runs.peaks.join(' ')}; the fleet has ${fleet.databases.length} databases`,
    ),
  );
  const mainShard = results.cases.find((summary) => summary.name === 'tenantplane-shard');
  const { newSessions } = runs;
  results.report.fleet = {
    tenants: fleet.tenants.length,
    databases: fleet.databases,
    placement: fleet.placement,
    server: FLEET_SERVER_ID,
    serverMaxConnections: options.fleetServerMaxConnections,
    routerBudget,
    peakRouterConnectionsPerRun: runs.peaks,
    setupSeconds: setup.seconds,
    createSeconds: fleet.createSeconds,
    tenantOrderSeed: TENANT_ORDER_SEED,
    // Connections PostgreSQL accepted on the fleet databases per measured run (warm-up excluded): each
    // opened for a database that had no idle connection, mostly after another database's was closed.
    newConnectionsPerRun: newSessions,
    newConnectionsPerSecond: newSessions.map((count) => count / options.fleetDuration),
    p99RatioToMainShardCase: mainShard ? fleetSummary.median.p99 / mainShard.median.p99 : null,
  };
  log(
    `  new PostgreSQL connections per fleet run: ${newSessions.join(', ')} ` +
      `(${newSessions.map((count) => (count / options.fleetDuration).toFixed(0)).join(', ')} per s)`,
  );
}

/** The fleet case: its setup, a service checked on fleet and warm tenants, the rounds, the results. */
export async function measureFleet(run: RouterRun): Promise<void> {
  const { plane } = run;
  const { shard } = plane;
  const setup = await setUpFleet(run);
  const service = await startService({
    name: 'tenantplane-fleet',
    script: 'src/cli/main.ts',
    args: ['serve'],
    env: run.tenantplaneEnv,
    logFile: `${run.filePrefix}-tenantplane-fleet.log`,
    ...profiling(run),
  });
  const order = shuffled(setup.fleet.tenants, TENANT_ORDER_SEED);
  for (const tenant of order.slice(0, 25)) await checkList(service, tenant, 2);
  await checkList(service, shard, 20);
  log(
    `checked: 25 fleet tenants and ${shard.id} get their own rows (${shard.id} on ${SERVER_ID}, the fleet on ` +
      `${FLEET_SERVER_ID}, ${setup.routerBudget} router connections for ${setup.fleet.databases.length} databases)`,
  );
  // Counts the fleet server's router connections (its own application role) over each fleet run.
  const sampler = await ConnectionSampler.open(setup.role, plane.scope.prefix, plane.scope.controlDatabase);
  const tokens = order.map((tenant) => tenant.token);
  const runs = await runRounds(run, setup, service, tokens, sampler);
  await service.stop();
  await sampler.close();
  fleetResults(run, setup, runs);
}
