/**
 * `npm run bench:fleet`: tenantplane's router with hundreds of dedicated databases and thousands of shard
 * tenants under a Zipf load, in one and in three `serve` processes, against a hand-written service behind
 * PgBouncer capped at the same number of server connections. See README.md beside this file.
 */

import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestCluster, type TestCluster } from '../../test/support/test-cluster.js';
import { adminQuery, dropEverything } from '../../test/support/test-plane.js';
import { targetsTable } from '../lib/tables.js';
import {
  type BenchScope,
  type ControlServer,
  createScope,
  SERVER_ID,
  serviceEnv,
} from '../router/fixtures.js';
import { stopCurrentLoad } from '../router/load.js';
import { REPO_ROOT, type Service, startService, stopAllServices } from '../router/services.js';
import { measureConnectCost } from './connect-cost.js';
import { serveShares } from './instances.js';
import { type CaseRun, type CaseSpec, describeRun, measureCase } from './measure.js';
import { type FleetOptions, parseOptions } from './options.js';
import { checkPages } from './pages.js';
import { startPeer } from './peer.js';
import { findPgbouncer, type Pgbouncer, startPgbouncer, stopAllPgbouncers } from './pgbouncer.js';
import { CASE_NAMES, type CaseName, fleetTable, fleetTargets, summarizeCase } from './report.js';
import { ConnectionSampler } from './sampler.js';
import { createFleetPlane, type FleetPlane, type FleetTenant, SHARD_POOL_SIZE } from './setup.js';
import { zipfSequence } from './zipf.js';

const RESULTS_DIR = path.join(REPO_ROOT, 'bench/results');
/** Tokens drawn ahead: more than any run sends at this machine's speed, so a run does not wrap around. */
const SEQUENCE_LENGTH = 200_000;
/** Instances of the three-instance cases: tenantplane's serve processes, or the peer's. */
const INSTANCES = 3;

/** The services started together for some cases: one process (or three), started and stopped each round. */
const UNITS = {
  'tenantplane-1': ['warm-shard', 'warm-dedicated', 'fleet-1'],
  'tenantplane-3': ['warm-shard-3', 'fleet-3'],
  peer: ['peer'],
  'peer-3': ['peer-3'],
} as const satisfies Record<string, readonly CaseName[]>;
type Unit = keyof typeof UNITS;

let interrupted = false;
let human: NodeJS.WriteStream = process.stdout;

function log(line = ''): void {
  if (!interrupted) human.write(`${line}\n`);
}

function warn(line: string): void {
  process.stderr.write(`${line}\n`);
}

function quiet<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/** The code being measured: the commit, and whether src/ has changes not committed yet. */
function sourceState(): { commit: string | undefined; srcChanges: boolean | undefined } {
  const git = (args: string[]) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  return {
    commit: quiet(() => git(['rev-parse', '--short', 'HEAD'])),
    srcChanges: quiet(() => git(['status', '--porcelain', '--', 'src']) !== ''),
  };
}

interface Context {
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

function wanted(options: FleetOptions, name: string): boolean {
  return options.only.length === 0 || options.only.some((part) => name.includes(part));
}

/** Starts a unit's services, checks them, runs its wanted cases in the round's order, stops them. */
async function runUnit(context: Context, unit: Unit, round: number, runs: CaseRun[]): Promise<void> {
  const { options, fleet, sampler } = context;
  const cases = UNITS[unit].filter((name) => wanted(options, name));
  if (cases.length === 0) return;
  const leftover = await sampler.waitForNone(20);
  if (leftover > 0) log(`  (${leftover} application-role connections still open from before)`);

  const services: Service[] = [];
  let bouncer: Pgbouncer | undefined;
  // A folder per round: every round starts its services afresh under the same names.
  const cpuProfileDir = context.profileDir && path.join(context.profileDir, `round-${round + 1}`);
  const profiled = cpuProfileDir ? { cpuProfileDir } : {};
  try {
    const count = unit === 'tenantplane-3' || unit === 'peer-3' ? INSTANCES : 1;
    const name = (base: string, i: number) => (count === 1 ? base : `${base}-${i}-of-${count}`);
    if (unit === 'peer' || unit === 'peer-3') {
      bouncer = await startPgbouncer({
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
      // Every peer instance behind the one PgBouncer, which holds the whole budget for all of them.
      for (let i = 1; i <= count; i++) {
        const peer = name('peer', i);
        services.push(
          await startPeer(fleet, bouncer, peer, `${context.filePrefix}-${peer}.log`, cpuProfileDir),
        );
      }
    } else {
      for (let i = 1; i <= count; i++) {
        services.push(
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
    for (const service of services) {
      await checkPages(service, context.checked, options.rows, context.expectedPages);
    }

    // The CPU counted as the service's: every tenantplane instance, or the peer together with PgBouncer.
    const servicePids = [...services.map((service) => service.pid), ...(bouncer?.pid ? [bouncer.pid] : [])];
    const specs: Record<CaseName, CaseSpec> = {
      'warm-shard': { name: 'warm-shard', url: services[0]!.url, tokens: [fleet.warmShard.token] },
      'warm-dedicated': {
        name: 'warm-dedicated',
        url: services[0]!.url,
        tokens: [fleet.warmDedicated.token],
      },
      'fleet-1': { name: 'fleet-1', url: services[0]!.url, tokens: context.zipfTokens },
      'warm-shard-3': {
        name: 'warm-shard-3',
        url: services.map((service) => service.url),
        tokens: [fleet.warmShard.token],
      },
      'fleet-3': { name: 'fleet-3', url: services.map((service) => service.url), tokens: context.zipfTokens },
      peer: { name: 'peer', url: services[0]!.url, tokens: context.zipfTokens },
      'peer-3': { name: 'peer-3', url: services.map((service) => service.url), tokens: context.zipfTokens },
    };
    const order = round % 2 === 0 ? cases : [...cases].reverse();
    for (const name of order) {
      if (interrupted) return;
      const run = await measureCase({ ...specs[name], servicePids }, options, sampler, round);
      runs.push(run);
      log(describeRun(run));
    }
    if (unit.startsWith('tenantplane')) {
      // A diagnostic only: a full server (too many clients) must not undo the measurements.
      await serveShares(fleet.plane.controlUrl).then(
        (shares) => {
          const budget = shares?.map((share) => `${(share * 100).toFixed(0)}%`).join(' / ');
          if (budget) log(`  serve instances' shares of the router budget at the end: ${budget}`);
        },
        (error: Error) => log(`  (could not read the serve instances' shares: ${error.message})`),
      );
    }
  } finally {
    for (const service of services) await service.stop();
    await bouncer?.stop();
  }
}

async function main(options: FleetOptions): Promise<number> {
  if (options.json) human = process.stderr;
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  mkdirSync(RESULTS_DIR, { recursive: true });
  const filePrefix = path.join(RESULTS_DIR, `fleet-${stamp}`);
  const failures: string[] = [];
  const runs: CaseRun[] = [];
  const report: Record<string, unknown> = { startedAt: startedAt.toISOString(), options };

  let pgbouncer: string;
  try {
    pgbouncer = findPgbouncer();
  } catch (error) {
    warn(`bench:fleet: ${(error as Error).message}`);
    return 1;
  }

  let scope: BenchScope | undefined;
  let sampler: ConnectionSampler | undefined;
  /** The control database's own PostgreSQL cluster, from the moment its creation starts. */
  let controlCluster: Promise<TestCluster> | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      stopCurrentLoad();
      await stopAllServices().catch((error) => warn(`cleanup: stopping services failed: ${error}`));
      await stopAllPgbouncers().catch((error) => warn(`cleanup: stopping pgbouncer failed: ${error}`));
      await sampler?.close();
      // Still being created (Ctrl-C during setup): wait for it, so that it is dropped too.
      const cluster = await controlCluster?.catch(() => undefined);
      if (options.keep) {
        if (scope) warn(`kept (--keep): databases and roles ${scope.prefix}_*, data folder ${scope.dataDir}`);
        if (cluster) {
          warn(
            `kept (--keep): the control database's cluster ${cluster.version}/${cluster.name} on port ` +
              `${cluster.port} (pg_dropcluster --stop ${cluster.version} ${cluster.name})`,
          );
        }
        return;
      }
      if (scope) {
        await dropEverything(scope.prefix).catch((error) =>
          warn(`cleanup: dropping ${scope?.prefix}_* failed: ${error}`),
        );
        await rm(scope.dataDir, { recursive: true, force: true });
      }
      await cluster
        ?.drop()
        .catch((error) => warn(`cleanup: dropping the control cluster ${cluster.name} failed: ${error}`));
    })();
    return cleaning;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    log(`\n${signal}: stopping the load and the services, dropping the bench databases`);
    interrupted = true;
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    scope = await createScope();
    const source = sourceState();
    const setting = async (name: string) =>
      (await adminQuery<Record<string, string>>('postgres', `SHOW ${name}`)).rows[0]![name]!;
    const postgres = await setting('server_version');
    const maxConnections = Number(await setting('max_connections'));
    report.environment = {
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      postgres,
      maxConnections,
      pgbouncer: quiet(() => execFileSync(pgbouncer, ['--version'], { encoding: 'utf8' }).split('\n')[0]),
      ...source,
    };
    log(
      `bench:fleet  prefix ${scope.prefix}  ${os.cpus().length} CPUs  node ${process.version}  PostgreSQL ${postgres}  ` +
        `source ${source.commit ?? '?'}${source.srcChanges ? ' (with uncommitted changes in src/)' : ''}`,
    );
    log(
      `load: ${options.connections} connections, ${options.warmup} s warm-up + ${options.duration} s measured per ` +
        `case, ${options.rounds} rounds`,
    );

    log(
      `setup: ${options.dedicated} dedicated tenants, ${options.shardTenants} shard tenants over ${options.shards} ` +
        `shards, ${options.rows} deployments each`,
    );
    let control: ControlServer | undefined;
    if (options.controlOnTenantServer) {
      log('control database: on the tenant server (--control-on-tenant-server)');
    } else {
      controlCluster = createTestCluster();
      const cluster = await controlCluster.catch((error: Error) => {
        throw new Error(
          `could not create a PostgreSQL cluster for the control database (pg_createcluster, as root): ` +
            `${error.message}; --control-on-tenant-server puts it on the tenant server instead`,
        );
      });
      control = {
        url: (database) => cluster.superuserUrl(database),
        query: (database, text) => cluster.query(database, text),
      };
      const clusterMax = (
        await cluster.query<{ max_connections: string }>('postgres', 'SHOW max_connections')
      ).rows[0]!.max_connections;
      log(
        `control database: on a PostgreSQL ${cluster.version} cluster of its own (${cluster.name}, port ` +
          `${cluster.port}, max_connections ${clusterMax}), as in production; dropped at the end`,
      );
      (report.environment as Record<string, unknown>).controlCluster = {
        version: cluster.version,
        port: cluster.port,
        maxConnections: Number(clusterMax),
      };
    }
    const fleet = await createFleetPlane(scope, options, log, control);
    log(
      `  done in ${fleet.seconds.total.toFixed(0)} s (dedicated ${fleet.seconds.dedicated.toFixed(0)} s, ` +
        `shard tenants ${fleet.seconds.shard.toFixed(0)} s)`,
    );
    report.setup = {
      prefix: scope.prefix,
      seconds: fleet.seconds,
      dedicated: options.dedicated,
      shardTenants: options.shardTenants,
      shardDatabases: fleet.shardDatabases,
      applicationRole: fleet.credentials.user,
      serverBudget: options.serverMaxConnections,
      routerBudget: fleet.routerBudget,
    };
    log(
      `server ${SERVER_ID}: budget ${options.serverMaxConnections} connections; tenantplane's router may use ` +
        `${fleet.routerBudget} of them (80%), split among its serve instances, and PgBouncer is capped at the same ` +
        `${fleet.routerBudget} server connections (max_user_connections; ${SHARD_POOL_SIZE} per database)`,
    );

    sampler = await ConnectionSampler.open(
      fleet.credentials.user,
      scope.prefix,
      scope.controlDatabase,
      control?.url('postgres'),
    );
    const connectCost = await measureConnectCost(fleet.credentials, fleet.warmDedicated.databaseName);
    report.connectCost = connectCost;
    log(
      `connection open cost: ${connectCost.connections} sequential connect() as ${fleet.credentials.user} to ` +
        `${connectCost.database}: mean ${connectCost.connectMs.mean.toFixed(2)} ms, p50 ` +
        `${connectCost.connectMs.p50.toFixed(2)} ms, p99 ${connectCost.connectMs.p99.toFixed(2)} ms ` +
        `(with end(): mean ${connectCost.roundMs.mean.toFixed(2)} ms)`,
    );

    const zipf = zipfSequence(fleet.tenants, options.zipf, SEQUENCE_LENGTH);
    const head = zipf.sequence.slice(0, 30000);
    const top = zipf.ranked[0]!;
    const zipfReport = {
      exponent: options.zipf,
      tenants: fleet.tenants.length,
      sequenceLength: SEQUENCE_LENGTH,
      first30000: {
        distinctTenants: new Set(head.map((tenant) => tenant.id)).size,
        distinctDedicated: new Set(head.filter((t) => t.placement === 'dedicated').map((t) => t.id)).size,
        dedicatedShare: head.filter((tenant) => tenant.placement === 'dedicated').length / head.length,
      },
      top: {
        id: top.id,
        placement: top.placement,
        share: head.filter((t) => t === top).length / head.length,
      },
    };
    report.zipf = zipfReport;
    log(
      `Zipf s=${options.zipf} over ${fleet.tenants.length} tenants: the first 30,000 requests reach ` +
        `${zipfReport.first30000.distinctTenants} tenants (${zipfReport.first30000.distinctDedicated} of the ` +
        `${options.dedicated} dedicated databases), ${(zipfReport.first30000.dedicatedShare * 100).toFixed(1)}% ` +
        `of requests go to dedicated tenants; the top tenant (${top.id}, ${top.placement}) gets ` +
        `${(zipfReport.top.share * 100).toFixed(1)}%`,
    );
    log(
      `warm-shard-3, fleet-3 and peer-3: one load generator, connections round-robin over the ${INSTANCES} instances ` +
        `(${Array.from({ length: INSTANCES }, (_, i) => Math.ceil((options.connections - i) / INSTANCES)).join('/')})`,
    );

    const byRank = (placement: FleetTenant['placement']) =>
      zipf.ranked.filter((tenant) => tenant.placement === placement).slice(0, 8);
    const context: Context = {
      options,
      fleet,
      sampler,
      zipfTokens: zipf.sequence.map((tenant) => tenant.token),
      checked: [fleet.warmShard, fleet.warmDedicated, ...byRank('dedicated'), ...byRank('shard')],
      expectedPages: new Map(),
      filePrefix,
      profileDir: options.profile ? `${filePrefix}-profiles` : undefined,
    };
    const units = Object.keys(UNITS) as Unit[];
    for (let round = 0; round < options.rounds && !interrupted; round++) {
      log(`round ${round + 1}/${options.rounds}`);
      for (const unit of round % 2 === 0 ? units : [...units].reverse()) {
        if (interrupted) break;
        try {
          await runUnit(context, unit, round, runs);
        } catch (error) {
          const message = `${unit} in round ${round + 1}: ${(error as Error)?.stack ?? error}`;
          failures.push(message);
          log(`  FAILED ${message}`);
        }
      }
    }

    const cases = CASE_NAMES.filter((name) => runs.some((run) => run.name === name)).map((name) =>
      summarizeCase(
        name,
        runs.filter((run) => run.name === name),
      ),
    );
    const targets = fleetTargets(cases, fleet.routerBudget);
    report.runs = runs;
    report.cases = cases;
    report.targets = targets;
    if (cases.length > 0) {
      log();
      log(
        'median over rounds. latency: of 2xx responses. peak conns: most application-role connections on the ' +
          'server at once in any round (sampled every 100 ms, warm-up included): tenantplane pools and ' +
          "PgBouncer's server connections. catalog: connections to the control database (the services' " +
          `catalog pools${options.controlOnTenantServer ? ', on the tenant server' : ', on its own server'}). ` +
          `all: every client connection to the tenant server, anyone's (max_connections ${maxConnections}). ` +
          "new sessions/s: PostgreSQL sessions opened on the bench's databases " +
          'per measured second. svc cores: CPU of the service (all its instances; the peer with PgBouncer). ' +
          'other cores: CPU busy beyond the service and the load generator (PostgreSQL, the kernel, anything else).',
      );
      log(fleetTable(cases));
      log();
      log(targetsTable(targets));
    }
  } catch (error) {
    failures.push(`bench failed: ${(error as Error)?.stack ?? error}`);
  } finally {
    await cleanup();
  }

  report.finishedAt = new Date().toISOString();
  report.failures = failures;
  if (options.profile) report.profiles = `${filePrefix}-profiles`;
  const file = `${filePrefix}.json`;
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  for (const name of await readdir(RESULTS_DIR)) {
    const logFile = path.join(RESULTS_DIR, name);
    if (logFile.startsWith(filePrefix) && name.endsWith('.log') && (await stat(logFile)).size === 0) {
      await rm(logFile);
    }
  }
  for (const failure of failures) log(`BENCH FAILURE: ${failure}`);
  if (options.profile)
    log(`CPU profiles: ${path.relative(process.cwd(), `${filePrefix}-profiles`)}/round-N/`);
  log(`results: ${path.relative(process.cwd(), file)}`);
  if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return failures.length === 0 ? 0 : 1;
}

const options = parseOptions(process.argv.slice(2));
// Exits explicitly: a service or pool that failed halfway must not keep the process alive.
if (options) process.exit(await main(options));
