/**
 * `npm run bench:router`: tenantplane's request path against a hand-written express + jose + pg baseline,
 * on the same PostgreSQL, for a dedicated and a shard tenant, then a 2,000-tenant fleet on a server whose
 * router budget is smaller than the number of its databases. See README.md beside this file.
 */

import { mkdirSync } from 'node:fs';
import { readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ROUTER_BUDGET_SHARE } from '../../src/catalog/connection-budget.js';
import { TEST_POSTGRES_URL } from '../../test/setup/hooks.js';
import { adminQuery, adminUrlFor, dropEverything } from '../../test/support/test-plane.js';
import { ConnectionSampler } from '../fleet/sampler.js';
import {
  type BenchPlane,
  type BenchScope,
  type BenchTenant,
  createFleet,
  createPlane,
  createScope,
  type Fleet,
  SERVER_ID,
  serviceEnv,
  withRedis,
} from './fixtures.js';
import { LIST_PATH, type LoadResult, runLoad, stopCurrentLoad, waitForQuiet } from './load.js';
import { type BenchOptions, parseOptions } from './options.js';
import { shuffled } from './random.js';
import {
  type CaseSummary,
  casesTable,
  check,
  median,
  quantile,
  summarize,
  type TargetCheck,
  targetsTable,
} from './report.js';
import { REPO_ROOT, type Service, startService, stopAllServices } from './services.js';

const RESULTS_DIR = path.join(REPO_ROOT, 'bench/results');
/** The bench's PostgreSQL registered a second time, with a small budget, for the fleet's shards. */
const FLEET_SERVER_ID = 'pg-fleet';

/** Set on SIGINT/SIGTERM: from then on only cleanup speaks. */
let interrupted = false;

function log(line = ''): void {
  if (!interrupted) process.stdout.write(`${line}\n`);
}

function warn(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** A failure of the bench itself (as opposed to a missed target): the run exits non-zero. */
class BenchFailure extends Error {}

interface ListBody {
  data: Array<{ tenant_id: string }>;
  next_cursor: string | null;
  tenant_id: string;
}

async function getList(service: Service, token: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${service.url}${LIST_PATH}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10000),
  });
  return { status: response.status, text: await response.text() };
}

/** One page for the tenant: 200, the tenant's rows only, `expectedRows` of them; returns the body text. */
async function checkList(service: Service, tenant: BenchTenant, expectedRows: number): Promise<string> {
  const { status, text } = await getList(service, tenant.token);
  if (status !== 200) throw new BenchFailure(`${service.name} answered ${status} for ${tenant.id}: ${text}`);
  const body = JSON.parse(text) as ListBody;
  const problems: string[] = [];
  if (body.tenant_id !== tenant.id) problems.push(`tenant_id ${body.tenant_id}`);
  if (body.data.length !== expectedRows) problems.push(`${body.data.length} rows, wanted ${expectedRows}`);
  if (body.data.some((row) => row.tenant_id !== tenant.id)) problems.push('rows of another tenant');
  if (expectedRows === 20 && typeof body.next_cursor !== 'string') problems.push('no next_cursor');
  if (problems.length > 0) {
    throw new BenchFailure(`${service.name} gave a wrong page for ${tenant.id}: ${problems.join(', ')}`);
  }
  return text;
}

async function sessionsOf(databases: string[]): Promise<number> {
  const result = await adminQuery<{ sessions: string }>(
    'postgres',
    'SELECT coalesce(sum(sessions), 0)::text AS sessions FROM pg_stat_database WHERE datname = ANY($1)',
    [databases],
  );
  return Number(result.rows[0]!.sessions);
}

interface CaseSpec {
  name: string;
  service: Service;
  tokens: string[];
  seconds: number;
  /** Databases whose backends' CPU is counted. */
  databases: string[];
  /** Count backends that ended during the run too, and the sessions opened (connection churn). */
  countEndedBackends?: boolean;
}

async function measure(spec: CaseSpec, options: BenchOptions): Promise<LoadResult> {
  const load = { url: spec.service.url, connections: options.connections, tokens: spec.tokens };
  const waited = options.quietWait > 0 ? await waitForQuiet(0.25, options.quietWait) : 0;
  if (options.warmup > 0) await runLoad({ ...load, seconds: options.warmup });
  const sessionsBefore = spec.countEndedBackends ? await sessionsOf(spec.databases) : 0;
  const result = await runLoad({
    ...load,
    seconds: spec.seconds,
    servicePid: spec.service.pid,
    databases: spec.databases,
    countEndedBackends: spec.countEndedBackends ?? false,
  });
  if (spec.countEndedBackends) {
    // Backends report their session count to the statistics system within about a second.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    result.newConnections = (await sessionsOf(spec.databases)) - sessionsBefore;
  }
  const bad = result.errors + result.timeouts + result.non2xx;
  log(
    `  ${spec.name.padEnd(28)} ${result.rps.toFixed(0).padStart(6)} req/s  p50 ${result.latencyMs.p50.toFixed(2)} ms` +
      `  p99 ${result.latencyMs.p99.toFixed(2)} ms  ${bad === 0 ? 'no errors' : `errors/non-2xx ${bad} ${JSON.stringify(result.statusCodes)}`}` +
      (result.serviceCpu ? `  svc ${result.serviceCpu.coreShare.toFixed(2)} cores` : '') +
      (result.postgresCpu ? `  pg ${result.postgresCpu.coreShare.toFixed(2)} cores` : '') +
      `  other ${result.machine.otherCores.toFixed(2)} cores` +
      (result.machine.stealCores > 0.05 ? `  steal ${result.machine.stealCores.toFixed(2)} cores` : '') +
      (result.newConnections === undefined
        ? ''
        : `  ${(result.newConnections / result.seconds).toFixed(0)} new pg connections/s`) +
      (waited > 1.5 ? `  (waited ${waited.toFixed(0)} s for a quiet box)` : ''),
  );
  return result;
}

/** The two services of the operations comparison; `--only ops` selects both. */
const opsCaseNames = ['ops-off', 'ops-on'];

/** Starts ops-on and ops-off and checks that the one limits through Redis and measures, the other not. */
async function startOpsServices(
  plane: BenchPlane,
  env: Record<string, string>,
  filePrefix: string,
  profileDir: string | undefined,
  round: number,
): Promise<Record<string, Service>> {
  const services: Record<string, Service> = {};
  const pair = [
    ['ops-off', 'off'],
    ['ops-on', 'on'],
  ] as const;
  // Which starts first alternates too, in case starting second made a difference.
  for (const [name, toggle] of round % 2 === 0 ? pair : [...pair].reverse()) {
    services[name] = await startService({
      name: `tenantplane-${name}-round${round + 1}`,
      script: 'src/cli/main.ts',
      args: ['serve'],
      env: { ...env, RATE_LIMITS: toggle, METRICS: toggle },
      logFile: `${filePrefix}-tenantplane-${name}.log`,
      ...(profileDir ? { cpuProfileDir: profileDir } : {}),
    });
  }
  const on = services['ops-on']!;
  const off = services['ops-off']!;
  const limited = await fetch(`${on.url}${LIST_PATH}`, {
    headers: { authorization: `Bearer ${plane.shard.token}` },
  });
  const unlimited = await fetch(`${off.url}${LIST_PATH}`, {
    headers: { authorization: `Bearer ${plane.shard.token}` },
  });
  const ready = (await (await fetch(`${on.url}/ready`)).json()) as { checks: Record<string, string> };
  if (
    limited.headers.get('x-ratelimit-limit') === null ||
    unlimited.headers.get('x-ratelimit-limit') !== null ||
    ready.checks.rate_limit !== 'redis' ||
    (await fetch(`${on.url}/metrics`)).status !== 200 ||
    (await fetch(`${off.url}/metrics`)).status !== 404
  ) {
    throw new BenchFailure(
      `the operations services are not what they claim (rate_limit ${ready.checks.rate_limit}, headers ` +
        `${limited.headers.get('x-ratelimit-limit')} / ${unlimited.headers.get('x-ratelimit-limit')})`,
    );
  }
  await Promise.all([limited.text(), unlimited.text()]);
  return services;
}

/**
 * The shard tenant's list against two tenantplane services that differ only in RATE_LIMITS and METRICS
 * (both with REDIS_URL, so the limiter counts in Redis). Target: the on/off throughput ratio at least 0.95.
 *
 * Two kinds of noise are larger here than the cost measured. Throughput drifts by ±20% over tens of
 * seconds, so the two services get the load in short slices that alternate (on, off, off, on, ...) and
 * neighbouring slices share the machine's state. And two processes of the very same build and settings
 * differ by up to ±5% for their whole life (memory layout, code generation), so every round starts a
 * fresh pair, and the figures are medians over several pairs.
 */
async function measureOperations(
  plane: BenchPlane,
  tenantplaneEnv: Record<string, string>,
  options: BenchOptions,
  filePrefix: string,
  profileDir: string | undefined,
  cases: CaseSummary[],
  targets: TargetCheck[],
  failures: string[],
  report: Record<string, unknown>,
): Promise<void> {
  const env = withRedis(plane, tenantplaneEnv);
  log(
    `operations: each round a fresh tenantplane with rate limits (Redis at ${env.REDIS_URL}) and metrics on, ` +
      'and one with both off',
  );
  const slicesPerRound = Math.max(1, Math.round(options.duration / options.opsSlice));
  const runs = new Map<string, LoadResult[]>(opsCaseNames.map((name) => [name, []]));
  for (let round = 0; round < options.rounds; round++) {
    const services = await startOpsServices(plane, env, filePrefix, profileDir, round);
    if (round === 0) log('checked: ops-on limits through Redis and serves /metrics; ops-off does neither');
    const sliceLoad = (name: string, seconds: number) => ({
      url: services[name]!.url,
      connections: options.connections,
      tokens: [plane.shard.token],
      seconds,
    });
    const waited = options.quietWait > 0 ? await waitForQuiet(0.25, options.quietWait) : 0;
    for (const name of opsCaseNames) {
      if (options.warmup > 0) await runLoad(sliceLoad(name, options.warmup));
    }
    for (let slice = 0; slice < slicesPerRound; slice++) {
      const order = (round * slicesPerRound + slice) % 2 === 0 ? opsCaseNames : [...opsCaseNames].reverse();
      for (const name of order) {
        const load = { ...sliceLoad(name, options.opsSlice), servicePid: services[name]!.pid };
        runs.get(name)!.push(await runLoad({ ...load, databases: [plane.shard.databaseName] }));
      }
    }
    for (const service of Object.values(services)) await service.stop();
    const rps = (name: string) =>
      median(
        runs
          .get(name)!
          .slice(-slicesPerRound)
          .map((run) => run.rps),
      );
    log(
      `operations round ${round + 1}/${options.rounds}: ${slicesPerRound} slices of ${options.opsSlice} s each, ` +
        `median ops-on ${rps('ops-on').toFixed(0)} req/s, ops-off ${rps('ops-off').toFixed(0)} req/s` +
        (waited > 1.5 ? `  (waited ${waited.toFixed(0)} s for a quiet box)` : ''),
    );
  }
  const [offSummary, onSummary] = opsCaseNames.map((name) => summarize(name, runs.get(name)!)) as [
    CaseSummary,
    CaseSummary,
  ];
  cases.push(offSummary, onSummary);
  for (const summary of [offSummary, onSummary]) {
    if (summary.errors + summary.non2xx > 0) {
      failures.push(`${summary.name}: ${summary.errors} errors and ${summary.non2xx} non-2xx responses`);
    }
  }
  // Slice i of one service ran right next to slice i of the other.
  const paired = onSummary.runs.map((run, i) => run.rps / (offSummary.runs[i]?.rps ?? Number.NaN));
  report.pairedRatios = {
    ...((report.pairedRatios as object | undefined) ?? {}),
    'ops-on / ops-off': paired,
  };
  targets.push(
    check(
      'req/s ops-on / ops-off (rate limits + metrics)',
      onSummary.median.rps / offSummary.median.rps,
      '>=',
      0.95,
      `median of ${paired.length} neighbouring slice pairs ${median(paired).toFixed(3)}, ` +
        `quartiles ${quantile(paired, 0.25).toFixed(3)}-${quantile(paired, 0.75).toFixed(3)}`,
    ),
  );
}

function wanted(options: BenchOptions, name: string): boolean {
  return options.only.length === 0 || options.only.some((part) => name.includes(part));
}

async function main(options: BenchOptions): Promise<number> {
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  mkdirSync(RESULTS_DIR, { recursive: true });
  const filePrefix = path.join(RESULTS_DIR, `router-${stamp}`);
  const profileDir = options.profile ? `${filePrefix}-profiles` : undefined;

  const report: Record<string, unknown> = {
    startedAt: startedAt.toISOString(),
    options,
    environment: {
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      loadAverage: os.loadavg(),
    },
  };
  const cases: CaseSummary[] = [];
  const targets: TargetCheck[] = [];
  const failures: string[] = [];

  let scope: BenchScope | undefined;
  let plane: BenchPlane | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      stopCurrentLoad();
      await stopAllServices().catch((error) => warn(`cleanup: stopping services failed: ${error}`));
      if (plane) {
        const closing = plane.tp.close();
        const timeout = new Promise((resolve) => setTimeout(resolve, 5000).unref());
        await Promise.race([closing, timeout]).catch((error) => warn(`cleanup: closing failed: ${error}`));
      }
      if (scope) {
        await dropEverything(scope.prefix).catch((error) =>
          warn(`cleanup: dropping ${scope?.prefix}_* failed: ${error}`),
        );
        await rm(scope.dataDir, { recursive: true, force: true });
      }
    })();
    return cleaning;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    log(`\n${signal}: stopping the load, the services and dropping the bench databases`);
    interrupted = true;
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    scope = await createScope();
    log(`bench:router  prefix ${scope.prefix}  ${os.cpus().length} CPUs  node ${process.version}`);
    log(
      `load: ${options.connections} connections, ${options.warmup} s warm-up + ${options.duration} s measured per run, ` +
        `${options.rounds} rounds`,
    );
    const version = await adminQuery<{ server_version: string }>('postgres', 'SHOW server_version');
    (report.environment as Record<string, unknown>).postgres = version.rows[0]!.server_version;

    log('setup: control database, server, shard, tenants, rows');
    let setupStarted = performance.now();
    plane = await createPlane(scope, options);
    const { dedicated, shard } = plane;
    report.setup = {
      prefix: scope.prefix,
      seconds: (performance.now() - setupStarted) / 1000,
      dedicated: { tenant: dedicated.id, database: dedicated.databaseName, poolSize: dedicated.poolSize },
      shard: {
        tenant: shard.id,
        database: shard.databaseName,
        poolSize: shard.poolSize,
        neighbours: plane.neighbours.length,
      },
      rowsPerTenant: options.rows,
    };
    const tenantplaneEnv = serviceEnv(plane, {
      ROUTER_SHARD_POOL_SIZE: String(options.poolSize),
      AUTH_TOKEN_CACHE_SIZE: String(options.tokenCacheSize),
    });

    // --- single tenant: baseline against tenantplane, dedicated and shard ---------------------------------
    const singleNames = [
      'baseline-dedicated',
      'tenantplane-dedicated',
      'baseline-shard',
      'tenantplane-shard',
    ];
    const singleWanted = singleNames.filter((name) => wanted(options, name));
    if (singleWanted.length > 0) {
      log('starting services: tenantplane (tenantctl serve) and the baseline');
      const tenantplane = await startService({
        name: 'tenantplane',
        script: 'src/cli/main.ts',
        args: ['serve'],
        env: tenantplaneEnv,
        logFile: `${filePrefix}-tenantplane.log`,
        ...(profileDir ? { cpuProfileDir: profileDir } : {}),
      });
      const baseline = await startService({
        name: 'baseline',
        script: 'bench/router/baseline-server.ts',
        env: {
          BASELINE_JWKS: JSON.stringify(plane.jwks),
          BASELINE_ISSUER: plane.issuer,
          BASELINE_AUDIENCE: plane.audience,
          BASELINE_TENANTS: JSON.stringify({
            [dedicated.id]: { url: adminUrlFor(dedicated.databaseName), poolSize: dedicated.poolSize },
            [shard.id]: { url: adminUrlFor(shard.databaseName), poolSize: shard.poolSize },
          }),
        },
        logFile: `${filePrefix}-baseline.log`,
        ...(profileDir ? { cpuProfileDir: profileDir } : {}),
      });

      // Both answer the same page, byte for byte, before anything is timed.
      for (const tenant of [dedicated, shard]) {
        const ours = await checkList(tenantplane, tenant, 20);
        const theirs = await checkList(baseline, tenant, 20);
        if (ours !== theirs) {
          throw new BenchFailure(`tenantplane and the baseline answer differently for ${tenant.id}`);
        }
      }
      log('checked: both services return the same first page for both tenants');

      const specs: Record<string, CaseSpec> = {
        'baseline-dedicated': {
          name: 'baseline-dedicated',
          service: baseline,
          tokens: [dedicated.token],
          seconds: options.duration,
          databases: [dedicated.databaseName],
        },
        'tenantplane-dedicated': {
          name: 'tenantplane-dedicated',
          service: tenantplane,
          tokens: [dedicated.token],
          seconds: options.duration,
          databases: [dedicated.databaseName],
        },
        'baseline-shard': {
          name: 'baseline-shard',
          service: baseline,
          tokens: [shard.token],
          seconds: options.duration,
          databases: [shard.databaseName],
        },
        'tenantplane-shard': {
          name: 'tenantplane-shard',
          service: tenantplane,
          tokens: [shard.token],
          seconds: options.duration,
          databases: [shard.databaseName],
        },
      };
      const runs = new Map<string, LoadResult[]>(singleWanted.map((name) => [name, []]));
      for (let round = 0; round < options.rounds; round++) {
        // Alternate who goes first in each pair, so neither side always runs on a warmer (or hotter) box.
        const order =
          round % 2 === 0
            ? singleNames
            : ['tenantplane-dedicated', 'baseline-dedicated', 'tenantplane-shard', 'baseline-shard'];
        log(`round ${round + 1}/${options.rounds}`);
        for (const name of order.filter((n) => runs.has(n))) {
          runs.get(name)!.push(await measure(specs[name]!, options));
        }
      }
      for (const name of singleNames) {
        const measured = runs.get(name);
        if (!measured) continue;
        const summary = summarize(name, measured);
        cases.push(summary);
        if (summary.errors + summary.non2xx > 0) {
          failures.push(`${name}: ${summary.errors} errors and ${summary.non2xx} non-2xx responses`);
        }
      }
      await tenantplane.stop();
      await baseline.stop();

      const byName = new Map(cases.map((summary) => [summary.name, summary]));
      const pairs: Array<[string, string, number]> = [
        ['tenantplane-dedicated', 'baseline-dedicated', 0.9],
        ['tenantplane-shard', 'baseline-shard', 0.85],
      ];
      const pairedRatios: Record<string, number[]> = {};
      for (const [ours, theirs, target] of pairs) {
        const mine = byName.get(ours);
        const other = byName.get(theirs);
        if (!mine || !other) continue;
        // Each round runs the pair back to back, so the per-round ratio shares the box's state of the moment.
        const perRound = mine.runs.map((run, i) => run.rps / (other.runs[i]?.rps ?? Number.NaN));
        pairedRatios[`${ours} / ${theirs}`] = perRound;
        targets.push(
          check(
            `req/s ${ours} / ${theirs}`,
            mine.median.rps / other.median.rps,
            '>=',
            target,
            `per round ${perRound.map((value) => value.toFixed(2)).join(' ')}, median ${median(perRound).toFixed(2)}`,
          ),
        );
      }
      report.pairedRatios = pairedRatios;
    }

    // --- operations: rate limiting through Redis and metrics on, against the same service with both off ---
    if (opsCaseNames.some((name) => wanted(options, name))) {
      await measureOperations(
        plane,
        tenantplaneEnv,
        options,
        filePrefix,
        profileDir,
        cases,
        targets,
        failures,
        report,
      );
    }

    // --- fleet: 2,000 tenants over more databases than the router may keep connections to -----------------
    if (options.fleetTenants > 0 && wanted(options, 'fleet')) {
      const fleetRouterBudget = Math.max(
        1,
        Math.floor(options.fleetServerMaxConnections * ROUTER_BUDGET_SHARE),
      );
      log(
        `setup: fleet of ${options.fleetTenants} tenants over ${options.fleetDatabases} shards on server ` +
          `${FLEET_SERVER_ID} (the same PostgreSQL, registered again with budget ` +
          `${options.fleetServerMaxConnections}: the router may hold ${fleetRouterBudget} connections there), ` +
          `${options.fleetConcurrency} creates at a time`,
      );
      if (fleetRouterBudget >= options.fleetDatabases) {
        warn(
          `note: ${fleetRouterBudget} router connections for ${options.fleetDatabases} fleet databases: every ` +
            'database can keep a connection, so the fleet case measures no turnover',
        );
      }
      setupStarted = performance.now();
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
      const fleetRole = (await plane.tp.catalog.serverAppCredentials(FLEET_SERVER_ID)).user;
      log(
        `  ${fleet.tenants.length} tenants created in ${fleet.createSeconds.toFixed(1)} s; placement ${JSON.stringify(fleet.placement)}`,
      );
      const fleetSetupSeconds = (performance.now() - setupStarted) / 1000;

      const service = await startService({
        name: 'tenantplane-fleet',
        script: 'src/cli/main.ts',
        args: ['serve'],
        env: tenantplaneEnv,
        logFile: `${filePrefix}-tenantplane-fleet.log`,
        ...(profileDir ? { cpuProfileDir: profileDir } : {}),
      });
      const order = shuffled(fleet.tenants, 20240611);
      for (const tenant of order.slice(0, 25)) await checkList(service, tenant, 2);
      await checkList(service, shard, 20);
      log(
        `checked: 25 fleet tenants and ${shard.id} get their own rows (${shard.id} on ${SERVER_ID}, the fleet on ` +
          `${FLEET_SERVER_ID}, ${fleetRouterBudget} router connections for ${fleet.databases.length} databases)`,
      );
      // Counts the fleet server's router connections (its own application role) over each fleet run.
      const sampler = await ConnectionSampler.open(
        fleetRole,
        plane.scope.prefix,
        plane.scope.controlDatabase,
      );
      const peaks: number[] = [];

      const warmName = 'tenantplane-shard-warm@fleet';
      const fleetName = 'tenantplane-fleet';
      const warmRuns: LoadResult[] = [];
      const fleetRuns: LoadResult[] = [];
      const newSessions: number[] = [];
      const { fleetRounds } = options;
      for (let round = 0; round < fleetRounds; round++) {
        log(`fleet round ${round + 1}/${fleetRounds}`);
        const steps = round % 2 === 0 ? ['warm', 'fleet'] : ['fleet', 'warm'];
        for (const step of steps) {
          if (step === 'warm') {
            warmRuns.push(
              await measure(
                {
                  name: warmName,
                  service,
                  tokens: [shard.token],
                  seconds: options.duration,
                  databases: [shard.databaseName],
                },
                options,
              ),
            );
          } else {
            const tokens = order.map((tenant) => tenant.token);
            sampler.start();
            try {
              fleetRuns.push(
                await measure(
                  {
                    name: fleetName,
                    service,
                    tokens,
                    seconds: options.fleetDuration,
                    databases: fleet.databases,
                    countEndedBackends: true,
                  },
                  options,
                ),
              );
            } finally {
              peaks.push(sampler.stop().peak);
            }
            newSessions.push(fleetRuns.at(-1)!.newConnections ?? Number.NaN);
          }
        }
      }
      await service.stop();
      await sampler.close();
      const warm = summarize(warmName, warmRuns);
      const fleetSummary = summarize(fleetName, fleetRuns);
      cases.push(warm, fleetSummary);
      if (warm.errors + warm.non2xx > 0) {
        failures.push(`${warmName}: ${warm.errors} errors and ${warm.non2xx} non-2xx responses`);
      }
      targets.push(check('fleet errors + non-2xx', fleetSummary.errors + fleetSummary.non2xx, '==', 0));
      targets.push(
        check(
          'p99 fleet / p99 warm single-tenant shard',
          fleetSummary.median.p99 / warm.median.p99,
          '<=',
          3,
          'warm run in the same service, on the bench server',
        ),
      );
      targets.push(
        check(
          `peak router connections on ${FLEET_SERVER_ID}`,
          Math.max(...peaks),
          '<=',
          fleetRouterBudget,
          `per run ${peaks.join(' ')}; the fleet has ${fleet.databases.length} databases`,
        ),
      );
      const mainShard = cases.find((summary) => summary.name === 'tenantplane-shard');
      report.fleet = {
        tenants: fleet.tenants.length,
        databases: fleet.databases,
        placement: fleet.placement,
        server: FLEET_SERVER_ID,
        serverMaxConnections: options.fleetServerMaxConnections,
        routerBudget: fleetRouterBudget,
        peakRouterConnectionsPerRun: peaks,
        setupSeconds: fleetSetupSeconds,
        createSeconds: fleet.createSeconds,
        tenantOrderSeed: 20240611,
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
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    failures.push(
      error instanceof BenchFailure ? message : `bench failed: ${(error as Error)?.stack ?? message}`,
    );
  } finally {
    await cleanup();
  }

  report.finishedAt = new Date().toISOString();
  report.cases = Object.fromEntries(cases.map((summary) => [summary.name, summary]));
  report.targets = targets;
  report.failures = failures;
  if (profileDir) report.profiles = profileDir;
  const file = `${filePrefix}.json`;
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  // Keep the services' logs only when they said something (warnings and errors).
  for (const name of await readdir(RESULTS_DIR)) {
    const logFile = path.join(RESULTS_DIR, name);
    if (logFile.startsWith(filePrefix) && name.endsWith('.log') && (await stat(logFile)).size === 0) {
      await rm(logFile);
    }
  }

  log();
  if (cases.length > 0) {
    log(
      'median over runs. latency: of 2xx responses. svc/pg µs/req: CPU per request of the service process ' +
        "and of the PostgreSQL backends of the case's databases. svc cores: the service's CPU use. other " +
        'cores: CPU busy on the machine besides service, backends and load generator (kernel networking, ' +
        'PostgreSQL background work, other programs). steal: CPU the hypervisor took away.',
    );
    log(casesTable(cases));
    if (cases.some((summary) => summary.name === 'tenantplane-fleet')) {
      log(
        '(tenantplane-fleet pg µs/req includes every backend that ended during the run, server-wide: ' +
          'connection churn, but also autovacuum and other clients)',
      );
    }
    log();
  }
  if (targets.length > 0) {
    log(targetsTable(targets));
    log();
  }
  const fleetReport = report.fleet as { p99RatioToMainShardCase: number | null } | undefined;
  if (fleetReport?.p99RatioToMainShardCase != null) {
    log(
      `(for reference: p99 fleet / p99 tenantplane-shard of the main phase = ${fleetReport.p99RatioToMainShardCase.toFixed(3)})`,
    );
  }
  for (const failure of failures) log(`BENCH FAILURE: ${failure}`);
  log(`results: ${path.relative(process.cwd(), file)}`);
  return failures.length === 0 ? 0 : 1;
}

const options = parseOptions(process.argv.slice(2));
if (options) process.exitCode = await main(options);
