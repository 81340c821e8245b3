/**
 * `npm run bench:fleet`: tenantplane's router with hundreds of dedicated databases and thousands of shard
 * tenants under a Zipf load, in one and in three `serve` processes, against a hand-written service behind
 * PgBouncer capped at the same number of server connections. See README.md beside this file.
 */

import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { adminQuery } from '../../test/support/test-plane.js';
import { cleanUpOnSignal, dropScope, failureText, once, wasInterrupted } from '../lib/cleanup.js';
import { log, logTo, warn } from '../lib/log.js';
import { removeEmptyLogs, resultFiles, writeJson } from '../lib/results.js';
import { targetsTable } from '../lib/tables.js';
import { type BenchScope, createScope, SERVER_ID } from '../router/fixtures.js';
import { stopCurrentLoad } from '../router/load.js';
import { REPO_ROOT, stopAllServices } from '../router/services.js';
import { measureConnectCost } from './connect-cost.js';
import { type ControlCluster, dropControl, setUpControl } from './control.js';
import type { CaseRun } from './measure.js';
import { type FleetOptions, parseOptions } from './options.js';
import { findPgbouncer, stopAllPgbouncers } from './pgbouncer.js';
import { CASE_NAMES, fleetTable, fleetTargets, summarizeCase } from './report.js';
import { ConnectionSampler } from './sampler.js';
import { drawSequence } from './sequence.js';
import { createFleetPlane, type FleetPlane, type FleetTenant, SHARD_POOL_SIZE } from './setup.js';
import { type Context, INSTANCES, runUnit, UNITS, type Unit } from './units.js';

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

/** What cleanup has to undo, as far as the run got. */
interface Created {
  scope?: BenchScope;
  sampler?: ConnectionSampler;
  control: ControlCluster;
}

async function cleanUp(created: Created, keep: boolean): Promise<void> {
  stopCurrentLoad();
  await stopAllServices().catch((error) => warn(`cleanup: stopping services failed: ${error}`));
  await stopAllPgbouncers().catch((error) => warn(`cleanup: stopping pgbouncer failed: ${error}`));
  await created.sampler?.close();
  const { scope } = created;
  if (keep && scope)
    warn(`kept (--keep): databases and roles ${scope.prefix}_*, data folder ${scope.dataDir}`);
  if (!keep && scope) await dropScope(scope, warn);
  await dropControl(created.control, keep);
}

/** The machine, PostgreSQL, PgBouncer and the code measured, in `report.environment` and the first lines. */
async function describeEnvironment(
  options: FleetOptions,
  scope: BenchScope,
  pgbouncer: string,
  report: Record<string, unknown>,
): Promise<{ maxConnections: number }> {
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
  return { maxConnections };
}

/** The control database, the fleet's tenants, the connection sampler, and what one new connection costs. */
async function setUp(
  options: FleetOptions,
  scope: BenchScope,
  created: Created,
  report: Record<string, unknown>,
): Promise<{ fleet: FleetPlane; sampler: ConnectionSampler }> {
  log(
    `setup: ${options.dedicated} dedicated tenants, ${options.shardTenants} shard tenants over ${options.shards} ` +
      `shards, ${options.rows} deployments each`,
  );
  const environment = report.environment as Record<string, unknown>;
  const control = await setUpControl(options.controlOnTenantServer, created.control, environment);
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

  const sampler = await ConnectionSampler.open(
    fleet.credentials.user,
    scope.prefix,
    scope.controlDatabase,
    control?.url('postgres'),
  );
  created.sampler = sampler;
  const connectCost = await measureConnectCost(fleet.credentials, fleet.warmDedicated.databaseName);
  report.connectCost = connectCost;
  log(
    `connection open cost: ${connectCost.connections} sequential connect() as ${fleet.credentials.user} to ` +
      `${connectCost.database}: mean ${connectCost.connectMs.mean.toFixed(2)} ms, p50 ` +
      `${connectCost.connectMs.p50.toFixed(2)} ms, p99 ${connectCost.connectMs.p99.toFixed(2)} ms ` +
      `(with end(): mean ${connectCost.roundMs.mean.toFixed(2)} ms)`,
  );
  return { fleet, sampler };
}

/** Every unit in every round, the order reversed each round; a unit that fails is a failure, not the end. */
async function runRounds(context: Context, runs: CaseRun[], failures: string[]): Promise<void> {
  const { options } = context;
  const units = Object.keys(UNITS) as Unit[];
  for (let round = 0; round < options.rounds && !wasInterrupted(); round++) {
    log(`round ${round + 1}/${options.rounds}`);
    for (const unit of round % 2 === 0 ? units : [...units].reverse()) {
      if (wasInterrupted()) break;
      try {
        await runUnit(context, unit, round, runs);
      } catch (error) {
        const message = `${unit} in round ${round + 1}: ${(error as Error)?.stack ?? error}`;
        failures.push(message);
        log(`  FAILED ${message}`);
      }
    }
  }
}

/** The cases' medians and targets, in the report and as tables. */
function summarize(
  options: FleetOptions,
  runs: CaseRun[],
  routerBudget: number,
  maxConnections: number,
  report: Record<string, unknown>,
): void {
  const cases = CASE_NAMES.filter((name) => runs.some((run) => run.name === name)).map((name) =>
    summarizeCase(
      name,
      runs.filter((run) => run.name === name),
    ),
  );
  const targets = fleetTargets(cases, routerBudget);
  report.runs = runs;
  report.cases = cases;
  report.targets = targets;
  if (cases.length === 0) return;
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

async function main(options: FleetOptions): Promise<number> {
  if (options.json) logTo(process.stderr);
  const startedAt = new Date();
  const files = resultFiles('fleet', startedAt);
  const filePrefix = files.prefix;
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

  const created: Created = { control: {} };
  const cleanup = once(() => cleanUp(created, options.keep));
  cleanUpOnSignal('stopping the load and the services, dropping the bench databases', cleanup, true);
  try {
    const scope = await createScope();
    created.scope = scope;
    const { maxConnections } = await describeEnvironment(options, scope, pgbouncer, report);
    const { fleet, sampler } = await setUp(options, scope, created, report);
    const zipf = drawSequence(fleet.tenants, options, report);
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
    await runRounds(context, runs, failures);
    summarize(options, runs, fleet.routerBudget, maxConnections, report);
  } catch (error) {
    failures.push(failureText(error));
  } finally {
    await cleanup();
  }

  report.finishedAt = new Date().toISOString();
  report.failures = failures;
  if (options.profile) report.profiles = `${filePrefix}-profiles`;
  await writeJson(files.json, report);
  await removeEmptyLogs(filePrefix);
  for (const failure of failures) log(`BENCH FAILURE: ${failure}`);
  if (options.profile)
    log(`CPU profiles: ${path.relative(process.cwd(), `${filePrefix}-profiles`)}/round-N/`);
  log(`results: ${path.relative(process.cwd(), files.json)}`);
  if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return failures.length === 0 ? 0 : 1;
}

const options = parseOptions(process.argv.slice(2));
// Exits explicitly: a service or pool that failed halfway must not keep the process alive.
if (options) process.exit(await main(options));
