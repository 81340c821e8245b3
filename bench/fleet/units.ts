/**
 * bench:fleet's units: the services started together for some cases (one tenantplane process or three, the
 * peer behind PgBouncer once or three times), started afresh, checked and stopped in every round.
 */

import { createHash } from 'node:crypto';
import path from 'node:path';
import { wasInterrupted } from '../lib/cleanup.js';
import { log } from '../lib/log.js';
import { wanted } from '../lib/options.js';
import { serviceEnv } from '../router/fixtures.js';
import { type Service, startService } from '../router/services.js';
import { serveShares } from './instances.js';
import { type CaseRun, type CaseSpec, describeRun, measureCase } from './measure.js';
import type { FleetOptions } from './options.js';
import { checkPages } from './pages.js';
import { startPeer } from './peer.js';
import { type Pgbouncer, startPgbouncer } from './pgbouncer.js';
import type { CaseName } from './report.js';
import type { ConnectionSampler } from './sampler.js';
import { type FleetPlane, type FleetTenant, SHARD_POOL_SIZE } from './setup.js';

/** Instances of the three-instance cases: tenantplane's serve processes, or the peer's. */
export const INSTANCES = 3;

/** The services started together for some cases: one process (or three), started and stopped each round. */
export const UNITS = {
  'tenantplane-1': ['warm-shard', 'warm-dedicated', 'fleet-1'],
  'tenantplane-3': ['warm-shard-3', 'fleet-3', 'fleet-3-affine'],
  peer: ['peer'],
  'peer-3': ['peer-3'],
} as const satisfies Record<string, readonly CaseName[]>;
export type Unit = keyof typeof UNITS;

/** What every unit of every round works with. */
export interface Context {
  options: FleetOptions;
  fleet: FleetPlane;
  sampler: ConnectionSampler;
  zipfTokens: string[];
  /** Tenants whose first page every service must answer identically before it is measured. */
  checked: FleetTenant[];
  expectedPages: Map<string, string>;
  filePrefix: string;
  /** Where V8 CPU profiles go (`--profile`), a folder per round; undefined: none. */
  profileDir: string | undefined;
}

interface UnitServices {
  services: Service[];
  /** The peer's PgBouncer. */
  bouncer?: Pgbouncer;
}

/**
 * The unit's services, added to `started` as each starts (so that they are stopped whatever happens):
 * PgBouncer and the peer instances behind it, or the tenantplane instances.
 */
async function startUnit(context: Context, unit: Unit, round: number, started: UnitServices): Promise<void> {
  const { fleet } = context;
  // A folder per round: every round starts its services afresh under the same names.
  const cpuProfileDir = context.profileDir && path.join(context.profileDir, `round-${round + 1}`);
  const profiled = cpuProfileDir ? { cpuProfileDir } : {};
  const count = unit === 'tenantplane-3' || unit === 'peer-3' ? INSTANCES : 1;
  const name = (base: string, i: number) => (count === 1 ? base : `${base}-${i}-of-${count}`);
  if (unit === 'peer' || unit === 'peer-3') {
    const bouncer = await startPgbouncer({
      credentials: fleet.credentials,
      boundDatabases: Object.fromEntries(
        fleet.tenants
          .filter((tenant) => tenant.placement === 'dedicated')
          .map((tenant) => [tenant.databaseName, tenant.id]),
      ),
      maxServerConnections: fleet.routerBudget,
      poolSize: SHARD_POOL_SIZE,
      logFile: `${context.filePrefix}-pgbouncer.log`,
    });
    started.bouncer = bouncer;
    // Every peer instance behind the one PgBouncer, which holds the whole budget for all of them.
    for (let i = 1; i <= count; i++) {
      const peer = name('peer', i);
      started.services.push(
        await startPeer(fleet, bouncer, peer, `${context.filePrefix}-${peer}.log`, cpuProfileDir),
      );
    }
  } else {
    for (let i = 1; i <= count; i++) {
      started.services.push(
        await startService({
          name: name('tenantplane', i),
          script: 'src/cli/main.ts',
          args: ['serve'],
          env: serviceEnv(fleet.plane, { ROUTER_SHARD_POOL_SIZE: String(SHARD_POOL_SIZE) }),
          logFile: `${context.filePrefix}-${name('tenantplane', i)}.log`,
          ...profiled,
        }),
      );
    }
  }
}

/** Every case's load: which URLs (one service, or each instance round-robin) and which tokens. */
function caseSpecs(context: Context, services: Service[]): Record<CaseName, CaseSpec> {
  const { fleet, zipfTokens } = context;
  const first = services[0]!.url;
  const all = services.map((service) => service.url);
  return {
    'warm-shard': { name: 'warm-shard', url: first, tokens: [fleet.warmShard.token] },
    'warm-dedicated': { name: 'warm-dedicated', url: first, tokens: [fleet.warmDedicated.token] },
    'fleet-1': { name: 'fleet-1', url: first, tokens: zipfTokens },
    'warm-shard-3': { name: 'warm-shard-3', url: all, tokens: [fleet.warmShard.token] },
    'fleet-3': { name: 'fleet-3', url: all, tokens: zipfTokens },
    'fleet-3-affine': {
      name: 'fleet-3-affine',
      url: all,
      tokens: zipfTokens,
      tokensByHost: tenantAffine(zipfTokens, all),
    },
    peer: { name: 'peer', url: first, tokens: zipfTokens },
    'peer-3': { name: 'peer-3', url: all, tokens: zipfTokens },
  };
}

/**
 * The Zipf sequence split by instance as a load balancer with tenant affinity would (a hash of the
 * tenant, here of its token, which is one per tenant): each instance sees a third of the tenants, so its
 * third of the budget covers a third of the databases.
 */
function tenantAffine(tokens: string[], urls: string[]): Record<string, string[]> {
  const byHost: Record<string, string[]> = {};
  const hosts = urls.map((url) => new URL(url).host);
  for (const host of hosts) byHost[host] = [];
  for (const token of tokens) {
    const digest = createHash('sha256').update(token).digest();
    byHost[hosts[digest.readUInt32BE(0) % hosts.length]!]!.push(token);
  }
  return byHost;
}

/** A diagnostic only: a full server (too many clients) must not undo the measurements. */
async function logServeShares(context: Context): Promise<void> {
  await serveShares(context.fleet.plane.controlUrl).then(
    (shares) => {
      const budget = shares?.map((share) => `${(share * 100).toFixed(0)}%`).join(' / ');
      if (budget) log(`  serve instances' shares of the router budget at the end: ${budget}`);
    },
    (error: Error) => log(`  (could not read the serve instances' shares: ${error.message})`),
  );
}

/** Starts a unit's services, checks them, runs its wanted cases in the round's order, stops them. */
export async function runUnit(context: Context, unit: Unit, round: number, runs: CaseRun[]): Promise<void> {
  const { options, sampler } = context;
  const cases = UNITS[unit].filter((name) => wanted(options.only, name));
  if (cases.length === 0) return;
  const leftover = await sampler.waitForNone(20);
  if (leftover > 0) log(`  (${leftover} application-role connections still open from before)`);

  const started: UnitServices = { services: [] };
  try {
    await startUnit(context, unit, round, started);
    const { services, bouncer } = started;
    for (const service of services) {
      await checkPages(service, context.checked, options.rows, context.expectedPages);
    }

    // The CPU counted as the service's: every tenantplane instance, or the peer together with PgBouncer.
    const servicePids = [...services.map((service) => service.pid), ...(bouncer?.pid ? [bouncer.pid] : [])];
    const specs = caseSpecs(context, services);
    const order = round % 2 === 0 ? cases : [...cases].reverse();
    for (const name of order) {
      if (wasInterrupted()) return;
      const run = await measureCase({ ...specs[name], servicePids }, options, sampler, round);
      runs.push(run);
      log(describeRun(run));
    }
    if (unit.startsWith('tenantplane')) await logServeShares(context);
  } finally {
    for (const service of started.services) await service.stop();
    await started.bouncer?.stop();
  }
}
