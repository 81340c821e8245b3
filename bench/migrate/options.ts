import { numberOption, parseFlags } from '../lib/options.js';

export interface BenchOptions {
  /** Dedicated (enterprise) databases in the fleet. */
  databases: number;
  /** Rows put in `deployments` in every database before the migration. */
  rows: number;
  /** Interleaved rounds of (runner at 1, runner at default, baseline); medians over rounds are reported. */
  rounds: number;
  /** Tenant creates running at once while building the fleet. */
  provisionConcurrency: number;
  /** Connection budget registered for the server; the runner's default concurrency derives from it. */
  serverMaxConnections: number;
  /** Before each timed run, wait at most this many seconds for the machine to be nearly idle; 0 disables. */
  quietWait: number;
  /** Times a timed run that shared the CPU with other processes is discarded and measured again. */
  contendedRetries: number;
  /** Skip the instrumented breakdown pass (where the runner's time per database goes). */
  skipBreakdown: boolean;
  /** After the breakdown, one CPU-profiled pass of the runner and of the baseline (.cpuprofile files). */
  profile: boolean;
}

const HELP = `npm run bench:migrate -- [flags]

  --databases N                 dedicated databases in the fleet (default 100)
  --rows N                      rows in deployments per database (default 2000)
  --rounds N                    interleaved rounds of the three variants; medians reported (default 3)
  --provision-concurrency N     tenant creates at once while building the fleet (default 4)
  --server-max-connections N    connection budget registered for the server (default 100)
  --quiet-wait S                before each timed run wait up to S s for other work on the box to
                                calm down (below 0.3 busy cores for 0.5 s), 0 to disable (default 30)
  --contended-retries N         measure a run again, at most N times, when other processes took more
                                than 0.2 cores during it (default 2)
  --skip-breakdown              skip the instrumented passes that split the time per database
  --profile                     also CPU-profile one runner and one baseline pass (this process only);
                                writes .cpuprofile files next to the JSON and prints where the CPU went
  --help
`;

const number = (name: string, raw: string | undefined, fallback: number, min = 1) =>
  numberOption(name, raw, fallback, { min });

export function parseOptions(argv: string[]): BenchOptions | undefined {
  const values = parseFlags(
    argv,
    {
      databases: { type: 'string' },
      rows: { type: 'string' },
      rounds: { type: 'string' },
      'provision-concurrency': { type: 'string' },
      'server-max-connections': { type: 'string' },
      'quiet-wait': { type: 'string' },
      'contended-retries': { type: 'string' },
      'skip-breakdown': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
    },
    HELP,
  );
  if (!values) return undefined;
  return {
    databases: number('databases', values.databases, 100),
    rows: number('rows', values.rows, 2000, 0),
    rounds: number('rounds', values.rounds, 3),
    provisionConcurrency: number('provision-concurrency', values['provision-concurrency'], 4),
    serverMaxConnections: number('server-max-connections', values['server-max-connections'], 100),
    quietWait: number('quiet-wait', values['quiet-wait'], 30, 0),
    contendedRetries: number('contended-retries', values['contended-retries'], 2, 0),
    skipBreakdown: values['skip-breakdown'],
    profile: values.profile,
  };
}
