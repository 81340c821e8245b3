import { listOption, numberOption, parseFlags } from '../lib/options.js';

export interface FleetOptions {
  /** Enterprise tenants, each on a database of its own. */
  dedicated: number;
  /** Starter tenants spread over the shards. */
  shardTenants: number;
  /** Shard databases. */
  shards: number;
  /** Deployments per tenant. */
  rows: number;
  /** Measured seconds per case and round. */
  duration: number;
  /** Warm-up seconds before each measured run (discarded). */
  warmup: number;
  /** Rounds of all cases; the order of the cases alternates between rounds. */
  rounds: number;
  /** Concurrent HTTP connections of the load generator. */
  connections: number;
  /** Exponent of the Zipf distribution of requests over tenants. */
  zipf: number;
  /** Connection budget registered for the server; the router may use 80% of it, and so may PgBouncer. */
  serverMaxConnections: number;
  /** Before each case, wait at most this many seconds for the machine to be nearly idle; 0 disables. */
  quietWait: number;
  /** Only the cases whose name contains one of these; empty: all. */
  only: string[];
  /**
   * The control database on the tenant server (the layout before it had a PostgreSQL of its own): the
   * services' catalog connections then take slots of the server that the tenant databases need.
   */
  controlOnTenantServer: boolean;
  /** Write V8 CPU profiles of the services (node --cpu-prof) into the results folder. */
  profile: boolean;
  /** Leave the databases, roles and data folder (and the control database's cluster) in place at the end. */
  keep: boolean;
  /** Print the report as JSON on stdout (the human-readable lines go to stderr). */
  json: boolean;
}

const HELP = `npm run bench:fleet -- [flags]

  --dedicated N               enterprise tenants, one database each (default 200)
  --shard-tenants N           starter tenants over the shards (default 3000)
  --shards N                  shard databases (default 4)
  --rows N                    deployments per tenant (default 5)
  --duration S                measured seconds per case and round (default 15)
  --warmup S                  warm-up seconds before each measured run (default 5)
  --rounds N                  rounds of all cases, order alternating (default 3)
  --connections N             concurrent HTTP connections (default 32)
  --zipf S                    Zipf exponent of the requests over all tenants (default 1.0)
  --server-max-connections N  budget registered for the server; the router and PgBouncer may use 80% (default 80)
  --quiet-wait S              before each case wait up to S s for other work on the box to calm down (default 10)
  --only NAME[,NAME]          only cases whose name contains one of these: warm, fleet-1, fleet-3, peer, 3 (the three-instance cases)
  --control-on-tenant-server  the control database on the tenant server instead of a cluster of its own
  --profile                   write CPU profiles of the services to bench/results/
  --keep                      do not drop the databases, roles, data folder and control cluster at the end
  --json                      the report as JSON on stdout (progress and tables on stderr)
  --help
`;

const number = (name: string, raw: string | undefined, fallback: number, min: number, integer = true) =>
  numberOption(name, raw, fallback, { min, integer });

export function parseOptions(argv: string[]): FleetOptions | undefined {
  const values = parseFlags(
    argv,
    {
      dedicated: { type: 'string' },
      'shard-tenants': { type: 'string' },
      shards: { type: 'string' },
      rows: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      zipf: { type: 'string' },
      'server-max-connections': { type: 'string' },
      'quiet-wait': { type: 'string' },
      only: { type: 'string' },
      'control-on-tenant-server': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    HELP,
  );
  if (!values) return undefined;
  return {
    dedicated: number('dedicated', values.dedicated, 200, 1),
    shardTenants: number('shard-tenants', values['shard-tenants'], 3000, 1),
    shards: number('shards', values.shards, 4, 1),
    rows: number('rows', values.rows, 5, 1),
    duration: number('duration', values.duration, 15, 1),
    warmup: number('warmup', values.warmup, 5, 0),
    rounds: number('rounds', values.rounds, 3, 1),
    connections: number('connections', values.connections, 32, 3),
    zipf: number('zipf', values.zipf, 1.0, 0, false),
    serverMaxConnections: number('server-max-connections', values['server-max-connections'], 80, 2),
    quietWait: number('quiet-wait', values['quiet-wait'], 10, 0),
    only: listOption(values.only),
    controlOnTenantServer: values['control-on-tenant-server'],
    profile: values.profile,
    keep: values.keep,
    json: values.json,
  };
}
