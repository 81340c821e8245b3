import { listOption, numberOption, parseFlags } from '../lib/options.js';

export interface BenchOptions {
  /** Measured seconds per run. */
  duration: number;
  /** Warm-up seconds before each measured run (results discarded). */
  warmup: number;
  /** Concurrent HTTP connections of the load generator. */
  connections: number;
  /** Rounds of the four single-tenant cases; each case's median over rounds is reported. */
  rounds: number;
  /** Deployments per tenant in the single-tenant cases. */
  rows: number;
  /** Other tenants on the shard beside the measured pro tenant. */
  neighbours: number;
  /** Connections per database pool, for tenantplane's shard pool and every baseline pool. */
  poolSize: number;
  /** AUTH_TOKEN_CACHE_SIZE of the tenantplane service: 0 verifies every token, as the baseline does. */
  tokenCacheSize: number;
  /** Connection budget registered for the server (tenantplane may use 80% of it). */
  serverMaxConnections: number;
  /** Tenants of the fleet case; 0 skips it. */
  fleetTenants: number;
  /** Shard databases the fleet is spread over. */
  fleetDatabases: number;
  /**
   * Budget of the fleet's server (a second registration of the same PostgreSQL): its router budget (80%)
   * is below fleetDatabases, so connections are closed and opened again as requests move between databases.
   */
  fleetServerMaxConnections: number;
  /** Measured seconds of the fleet run. */
  fleetDuration: number;
  /** Rounds of (warm single-tenant run, fleet run) in the fleet service, order alternating. */
  fleetRounds: number;
  /** Concurrent tenant creates while building the fleet. */
  fleetConcurrency: number;
  /** Seconds of each slice of the operations comparison (on and off alternate slice by slice). */
  opsSlice: number;
  /** Before each run, wait at most this many seconds for the machine to be nearly idle; 0 disables. */
  quietWait: number;
  /** Write V8 CPU profiles of the services (node --cpu-prof) into the results folder. */
  profile: boolean;
  /** Only the cases whose name contains one of these (e.g. `shard`); empty: all. */
  only: string[];
  /**
   * `on`: every tenantplane service exports its spans over OTLP to a sink in the bench process that
   * discards them, and the tracing comparison (tracing-on against tracing-off) runs. Default `off`.
   */
  tracing: 'off' | 'on';
  /**
   * USAGE_METERING of the tenantplane services: `on` (the default, as in production) or `off`; `both` also
   * runs the metering comparison (metering-on against metering-off).
   */
  metering: 'on' | 'off' | 'both';
}

const HELP = `npm run bench:router -- [flags]

  --duration S            measured seconds per run (default 10)
  --warmup S              warm-up seconds before each run (default 3)
  --connections N         concurrent connections (default 32)
  --rounds N              rounds of the four single-tenant cases (default 4)
  --rows N                deployments per tenant (default 200)
  --neighbours N          extra tenants on the shard (default 6)
  --pool-size N           connections per pool, both services (default 10)
  --token-cache-size N    tenantplane's verified-token cache; 0 verifies every request (default 10000)
  --server-max-connections N   budget registered for the server (default 80)
  --fleet-tenants N       tenants in the fleet case, 0 to skip it (default 2000)
  --fleet-databases N     shard databases of the fleet (default 6)
  --fleet-server-max-connections N   budget of the fleet's server; the router may use 80% of it, fewer
                          connections than the fleet has databases (default 5: 4 connections)
  --fleet-duration S      measured seconds of the fleet run (default: --duration)
  --fleet-rounds N        rounds of warm single-tenant run + fleet run (default 2)
  --fleet-concurrency N   concurrent tenant creates (default 8)
  --ops-slice S           seconds per slice of the ops comparison, on and off alternating (default 2)
  --quiet-wait S          before each run wait up to S s for other work on the box to calm down
                          (below 0.25 busy cores), 0 to disable (default 20)
  --only NAME[,NAME]      only cases whose name contains one of these (e.g. shard, dedicated, fleet, ops)
  --profile               write CPU profiles of the services to bench/results/
  --tracing off|on        on: the tenantplane services export traces over OTLP to a sink in this process,
                          and tracing-on is compared with tracing-off (default off)
  --metering on|off|both  USAGE_METERING of the tenantplane services (default on); both: on, and
                          metering-on is compared with metering-off
  --help
`;

const positive = (name: string, raw: string | undefined, fallback: number, min = 1) =>
  numberOption(name, raw, fallback, { min, integer: false });

export function parseOptions(argv: string[]): BenchOptions | undefined {
  const values = parseFlags(
    argv,
    {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      rounds: { type: 'string' },
      rows: { type: 'string' },
      neighbours: { type: 'string' },
      'pool-size': { type: 'string' },
      'token-cache-size': { type: 'string' },
      'server-max-connections': { type: 'string' },
      'fleet-tenants': { type: 'string' },
      'fleet-databases': { type: 'string' },
      'fleet-server-max-connections': { type: 'string' },
      'fleet-duration': { type: 'string' },
      'fleet-rounds': { type: 'string' },
      'ops-slice': { type: 'string' },
      'fleet-concurrency': { type: 'string' },
      only: { type: 'string' },
      'quiet-wait': { type: 'string' },
      profile: { type: 'boolean', default: false },
      tracing: { type: 'string', default: 'off' },
      metering: { type: 'string', default: 'on' },
    },
    HELP,
  );
  if (!values) return undefined;
  if (values.tracing !== 'off' && values.tracing !== 'on') throw new Error('--tracing must be off or on');
  const metering = values.metering;
  if (metering !== 'on' && metering !== 'off' && metering !== 'both') {
    throw new Error('--metering must be on, off or both');
  }
  const duration = positive('duration', values.duration, 10);
  const fleetDatabases = positive('fleet-databases', values['fleet-databases'], 6);
  return {
    duration,
    warmup: positive('warmup', values.warmup, 3, 0),
    connections: positive('connections', values.connections, 32),
    rounds: positive('rounds', values.rounds, 4),
    rows: positive('rows', values.rows, 200),
    neighbours: positive('neighbours', values.neighbours, 6, 0),
    poolSize: positive('pool-size', values['pool-size'], 10),
    tokenCacheSize: positive('token-cache-size', values['token-cache-size'], 10000, 0),
    serverMaxConnections: positive('server-max-connections', values['server-max-connections'], 80),
    fleetTenants: positive('fleet-tenants', values['fleet-tenants'], 2000, 0),
    fleetDatabases,
    fleetServerMaxConnections: positive(
      'fleet-server-max-connections',
      values['fleet-server-max-connections'],
      5,
    ),
    fleetDuration: positive('fleet-duration', values['fleet-duration'], duration),
    fleetRounds: positive('fleet-rounds', values['fleet-rounds'], 2),
    fleetConcurrency: positive('fleet-concurrency', values['fleet-concurrency'], 8),
    opsSlice: positive('ops-slice', values['ops-slice'], 2),
    quietWait: positive('quiet-wait', values['quiet-wait'], 20, 0),
    profile: values.profile,
    only: listOption(values.only),
    tracing: values.tracing,
    metering,
  };
}
