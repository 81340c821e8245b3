import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { adminQuery } from '../../test/support/test-plane.js';
import { endedChildrenCpuSeconds, machineCpuSeconds, processCpuSeconds } from '../lib/proc.js';
import { percentileOfSorted } from '../lib/stats.js';

export const LIST_PATH = '/api/v1/deployments?limit=20';

export interface LoadSpec {
  /**
   * The service's base URL, or several: autocannon then gives connection i to URL i mod n (round-robin),
   * while the tokens still go out in one sequence across all connections.
   */
  url: string | string[];
  connections: number;
  seconds: number;
  /** One token for every request, or several used in turn (one after another across all connections). */
  tokens: string[];
  /**
   * With several URLs: the tokens each URL's connections send, by the URL's host (`127.0.0.1:<port>`), in
   * turn, instead of `tokens`: a load balancer that sends each tenant to the same instance.
   */
  tokensByHost?: Record<string, string[]>;
  /** Process (or processes, added up) whose CPU use is measured over the run: the service under load. */
  servicePid?: number | number[];
  /** Databases whose PostgreSQL backends' CPU use is measured over the run. */
  databases?: string[];
  /**
   * Also count the CPU of backends that ended during the run (from the postmaster's reaped-children CPU):
   * for runs where connections come and go. Counts every database's ended backends, not just `databases`.
   */
  countEndedBackends?: boolean;
}

export interface LoadResult {
  seconds: number;
  requests: number;
  rps: number;
  /** Latency of 2xx responses, in ms, from the load generator's own per-response timings. */
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  /**
   * Service CPU (user + system) over the run, of all its processes together: share of one core, and per
   * request in microseconds.
   */
  serviceCpu: { coreShare: number; microsPerRequest: number } | undefined;
  /** CPU of the PostgreSQL backends serving `databases`: share of one core, and per request. */
  postgresCpu: { coreShare: number; microsPerRequest: number } | undefined;
  /** The load generator's own CPU, share of one core. */
  loadGeneratorCoreShare: number;
  /**
   * CPU busy on the whole machine (cores), and what is left of it after the service, PostgreSQL backends
   * and the load generator: other work on the box competing with the run (noise when it is large); and
   * CPU time the hypervisor took away (steal).
   */
  machine: { busyCores: number; otherCores: number; stealCores: number };
  /** PostgreSQL sessions opened on the databases during the run (approximate; set by the runner). */
  newConnections?: number;
  /** autocannon's own figures (its latency histogram has 1 ms resolution), for cross-checking. */
  autocannon: { rpsMean: number; p50: number; p99: number };
}

/** Set while a run is in flight, so an interrupt can stop it. */
let current: autocannon.Instance | undefined;

export function stopCurrentLoad(): void {
  current?.stop();
}

/** CPU seconds of the whole machine so far: busy (without steal) and stolen; NaN where /proc/stat is missing. */
function machineCpu(): { busy: number; steal: number } {
  return machineCpuSeconds() ?? { busy: Number.NaN, steal: Number.NaN };
}

/**
 * Waits (at most `maxSeconds`) until the machine is nearly idle (below `maxCores` busy over a second), so a
 * run does not start in the middle of someone else's burst of work. Returns the seconds waited.
 */
export async function waitForQuiet(maxCores = 0.25, maxSeconds = 20): Promise<number> {
  const started = performance.now();
  for (;;) {
    const before = machineCpu().busy;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const cores = machineCpu().busy - before;
    const waited = (performance.now() - started) / 1000;
    if (!(cores > maxCores) || waited >= maxSeconds) return waited;
  }
}

interface BackendCpu {
  /** CPU seconds used so far by each backend connected to the databases. */
  byPid: Map<number, number>;
  /** CPU seconds of all backends that have ended so far (the postmaster's reaped children). */
  ended: number;
}

let postmasterPid: Promise<number> | undefined;

/** The postmaster's pid, from postmaster.pid in the data directory (the bench runs beside the server). */
function findPostmaster(): Promise<number> {
  postmasterPid ??= adminQuery<{ data_directory: string }>('postgres', 'SHOW data_directory').then(
    ({ rows }) => {
      try {
        return Number(readFileSync(`${rows[0]!.data_directory}/postmaster.pid`, 'utf8').split('\n', 1)[0]);
      } catch {
        return Number.NaN;
      }
    },
  );
  return postmasterPid;
}

async function backendCpu(databases: string[] | undefined): Promise<BackendCpu> {
  const byPid = new Map<number, number>();
  if (!databases || databases.length === 0) return { byPid, ended: Number.NaN };
  const { rows } = await adminQuery<{ pid: number }>(
    'postgres',
    'SELECT pid FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()',
    [databases],
  );
  for (const { pid } of rows) byPid.set(pid, processCpuSeconds(pid));
  return { byPid, ended: endedChildrenCpuSeconds(await findPostmaster()) };
}

function backendCpuDelta(before: BackendCpu, after: BackendCpu, countEnded: boolean): number {
  let total = 0;
  if (countEnded) {
    // Backends that ended during the run: all their CPU reached the postmaster's reaped-children count,
    // including what they had used before the run started, which is taken off again.
    total += after.ended - before.ended;
    for (const [pid, seconds] of before.byPid) {
      if (!after.byPid.has(pid) && Number.isFinite(seconds)) total -= seconds;
    }
  }
  for (const [pid, seconds] of after.byPid) {
    if (!Number.isFinite(seconds)) continue;
    const start = before.byPid.get(pid);
    total += start !== undefined && Number.isFinite(start) ? seconds - start : seconds;
  }
  return total;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  if (spec.tokens.length === 0) throw new Error('no tokens to send');
  const single = spec.tokens.length === 1;
  let nextToken = 0;
  const options: autocannon.Options = {
    // autocannon takes an array of URLs too (its type declarations only say string).
    url: (Array.isArray(spec.url)
      ? spec.url.map((url) => `${url}${LIST_PATH}`)
      : `${spec.url}${LIST_PATH}`) as string,
    connections: spec.connections,
    duration: spec.seconds,
    timeout: 10,
    method: 'GET',
    headers: single ? { authorization: `Bearer ${spec.tokens[0]}` } : {},
  };
  if (spec.tokensByHost) {
    const byHost = spec.tokensByHost;
    const next: Record<string, number> = {};
    options.requests = [
      {
        method: 'GET',
        path: LIST_PATH,
        setupRequest: (request) => {
          const host = (request as { host?: string }).host ?? '';
          const tokens = byHost[host];
          if (!tokens || tokens.length === 0) throw new Error(`no tokens for ${host}`);
          const at = next[host] ?? 0;
          next[host] = (at + 1) % tokens.length;
          return { ...request, headers: { ...request.headers, authorization: `Bearer ${tokens[at]}` } };
        },
      },
    ];
  } else if (!single) {
    const { tokens } = spec;
    options.requests = [
      {
        method: 'GET',
        path: LIST_PATH,
        setupRequest: (request) => {
          const token = tokens[nextToken]!;
          nextToken = (nextToken + 1) % tokens.length;
          return { ...request, headers: { ...request.headers, authorization: `Bearer ${token}` } };
        },
      },
    ];
  }

  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const statusCodes: Record<string, number> = {};
  const backendsBefore = await backendCpu(spec.databases);
  const servicePids = spec.servicePid === undefined ? [] : [spec.servicePid].flat();
  const serviceCpu = () =>
    servicePids.length === 0 ? Number.NaN : servicePids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
  const cpuBefore = serviceCpu();
  const selfBefore = process.cpuUsage();
  const machineBefore = machineCpu();
  const started = performance.now();

  let settle!: (error: Error | null, result: autocannon.Result) => void;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    settle = (error, result) => (error ? reject(error) : resolve(result));
  });
  const instance = autocannon(options, (error, result) => settle(error, result));
  current = instance;
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
    if (statusCode < 200 || statusCode >= 300) return;
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[count++] = responseTime;
  });
  let result: autocannon.Result;
  try {
    result = await finished;
  } finally {
    current = undefined;
  }

  const wallSeconds = (performance.now() - started) / 1000;
  const cpuAfter = serviceCpu();
  const self = process.cpuUsage(selfBefore);
  const machineAfter = machineCpu();
  const machineSeconds = machineAfter.busy - machineBefore.busy;
  const postgresSeconds = spec.databases
    ? backendCpuDelta(backendsBefore, await backendCpu(spec.databases), spec.countEndedBackends ?? false)
    : Number.NaN;
  const sorted = latencies.slice(0, count).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  const requests = result['1xx'] + result['2xx'] + result['3xx'] + result['4xx'] + result['5xx'];
  const serviceCpuSeconds = cpuAfter - cpuBefore;
  const selfSeconds = (self.user + self.system) / 1e6;
  const perRequest = (seconds: number) => (requests === 0 ? Number.NaN : (seconds * 1e6) / requests);
  return {
    seconds: result.duration,
    requests,
    rps: requests / result.duration,
    latencyMs: {
      mean: count === 0 ? Number.NaN : sum / count,
      p50: percentileOfSorted(sorted, 50),
      p90: percentileOfSorted(sorted, 90),
      p99: percentileOfSorted(sorted, 99),
      max: count === 0 ? Number.NaN : sorted[count - 1]!,
    },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
    serviceCpu: Number.isFinite(serviceCpuSeconds)
      ? { coreShare: serviceCpuSeconds / wallSeconds, microsPerRequest: perRequest(serviceCpuSeconds) }
      : undefined,
    postgresCpu: Number.isFinite(postgresSeconds)
      ? { coreShare: postgresSeconds / wallSeconds, microsPerRequest: perRequest(postgresSeconds) }
      : undefined,
    loadGeneratorCoreShare: selfSeconds / wallSeconds,
    machine: {
      busyCores: machineSeconds / wallSeconds,
      stealCores: (machineAfter.steal - machineBefore.steal) / wallSeconds,
      otherCores:
        (machineSeconds -
          (Number.isFinite(serviceCpuSeconds) ? serviceCpuSeconds : 0) -
          (Number.isFinite(postgresSeconds) ? postgresSeconds : 0) -
          selfSeconds) /
        wallSeconds,
    },
    autocannon: { rpsMean: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 },
  };
}
