/**
 * bench:router:instructions — what rate limits and metrics (or, with `--compare metering`, usage metering)
 * cost per request, counted in instructions
 * under callgrind rather than timed: two tenantplane services that differ only in RATE_LIMITS and METRICS
 * serve the shard tenant's list, each under valgrind, and only their measured requests are counted. The
 * count is the same whatever else the machine does, which the throughput comparison of bench:router
 * (`--only ops`) cannot promise; it does not see cache misses or the kernel.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../../test/support/free-port.js';
import { dropEverything } from '../../test/support/test-plane.js';
import { fileStamp, RESULTS_DIR } from '../lib/results.js';
import { type InstructionCounts, isGarbageCollection, readCallgrind, total } from './callgrind.js';
import { type BenchPlane, createPlane, createScope, serviceEnv, withRedis } from './fixtures.js';
import { LIST_PATH } from './load.js';
import { parseOptions } from './options.js';
import { REPO_ROOT } from './services.js';

const USAGE = `npm run bench:router:instructions -- [--warmup-requests N] [--requests N] [--connections N] [--compare ops|metering]

  --warmup-requests N  requests per service before counting starts (default 6000)
  --requests N         requests counted per service (default 8000)
  --connections N      concurrent requests per service (default 8)
  --start-timeout S    seconds each service may take to start under valgrind (default 300)
  --compare WHAT       ops: RATE_LIMITS and METRICS on against off (default); metering: USAGE_METERING
                       on against off (rate limits and metrics on in both)`;

/** What each comparison switches, by the name of its "on" service. */
const COMPARISONS = {
  ops: { on: 'ops-on', off: 'ops-off', env: (toggle: string) => ({ RATE_LIMITS: toggle, METRICS: toggle }) },
  metering: { on: 'metering-on', off: 'metering-off', env: (toggle: string) => ({ USAGE_METERING: toggle }) },
} as const;

function readOptions(): {
  warmupRequests: number;
  requests: number;
  connections: number;
  compare: keyof typeof COMPARISONS;
  startTimeoutSeconds: number;
} {
  const { values } = parseArgs({
    options: {
      'warmup-requests': { type: 'string', default: '6000' },
      requests: { type: 'string', default: '8000' },
      connections: { type: 'string', default: '8' },
      compare: { type: 'string', default: 'ops' },
      'start-timeout': { type: 'string', default: '300' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const count = (name: string, value: string | undefined): number => {
    const number = Number(value);
    if (!Number.isInteger(number) || number < 1) throw new Error(`--${name} must be a positive integer`);
    return number;
  };
  return {
    warmupRequests: count('warmup-requests', values['warmup-requests']),
    requests: count('requests', values.requests),
    connections: count('connections', values.connections),
    compare: compareOption(values.compare),
    startTimeoutSeconds: count('start-timeout', values['start-timeout']),
  };
}

function compareOption(value: string | undefined): keyof typeof COMPARISONS {
  if (value !== 'ops' && value !== 'metering') throw new Error('--compare must be ops or metering');
  return value;
}

let options: ReturnType<typeof readOptions>;
try {
  options = readOptions();
} catch (error) {
  console.error(`${(error as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
const { warmupRequests, requests, connections } = options;
const comparison = COMPARISONS[options.compare];

for (const tool of ['valgrind', 'callgrind_control', 'callgrind_annotate']) {
  try {
    execFileSync('which', [tool], { stdio: 'ignore' });
  } catch {
    console.error(`bench:router:instructions needs ${tool} (Debian package valgrind)`);
    process.exit(2);
  }
}

interface CountedService {
  name: string;
  url: string;
  child: ChildProcess;
  pid: number;
  outFile: string;
}

async function startUnderCallgrind(
  name: string,
  env: Record<string, string>,
  outDir: string,
): Promise<CountedService> {
  const port = await freePort();
  const outFile = path.join(outDir, `${name}.callgrind`);
  // Instrumentation starts switched off: startup and warm-up run at valgrind's uninstrumented speed.
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      `--callgrind-out-file=${outFile}`,
      process.execPath,
      '--perf-basic-prof',
      '--import',
      'tsx',
      'src/cli/main.ts',
      'serve',
    ],
    {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, PORT: String(port) },
      stdio: ['ignore', 'ignore', 'ignore'],
    },
  );
  if (child.pid === undefined) throw new Error(`${name} did not start`);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + options.startTimeoutSeconds * 1000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} while starting`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      // Not yet among the services the cleanup stops: stopped here, or it would outlive the bench.
      child.kill('SIGKILL');
      throw new Error(`${name} did not answer /health within ${options.startTimeoutSeconds} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return { name, url, child, pid: child.pid, outFile };
}

async function send(service: CountedService, token: string, total: number): Promise<void> {
  let left = total;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (left-- > 0) {
        const response = await fetch(`${service.url}${LIST_PATH}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        const body = await response.text();
        if (response.status !== 200) {
          throw new Error(`${service.name} answered ${response.status}: ${body.slice(0, 300)}`);
        }
      }
    }),
  );
}

/** Warms the service up, then counts exactly `requests` requests; returns its per-function counts. */
async function measure(service: CountedService, plane: BenchPlane): Promise<InstructionCounts> {
  const started = performance.now();
  await send(service, plane.shard.token, warmupRequests);
  execFileSync('callgrind_control', ['--instr=on', String(service.pid)], { stdio: 'ignore' });
  await send(service, plane.shard.token, requests);
  execFileSync('callgrind_control', ['--dump', String(service.pid)], { stdio: 'ignore' });
  execFileSync('callgrind_control', ['--instr=off', String(service.pid)], { stdio: 'ignore' });
  console.log(`${service.name}: counted, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  // The dump requested above is part 1 of the output.
  return readCallgrind(`${service.outFile}.1`, service.pid);
}

/** SIGTERM, and SIGKILL if it has not exited after 60 s; its perf map goes too. */
async function stop(service: CountedService): Promise<void> {
  if (service.child.exitCode === null) {
    const exited = new Promise((resolve) => service.child.once('exit', resolve));
    service.child.kill('SIGTERM');
    const timer = setTimeout(() => service.child.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(`/tmp/perf-${service.pid}.map`, { force: true });
}

const perRequest = (instructions: number) => instructions / requests;

function report(on: InstructionCounts, off: InstructionCounts): Record<string, unknown> {
  const figures = (counts: InstructionCounts) => ({
    total: perRequest(total(counts)),
    garbageCollection: perRequest(total(counts, isGarbageCollection)),
    rest: perRequest(total(counts, (name) => !isGarbageCollection(name))),
  });
  const onFigures = figures(on);
  const offFigures = figures(off);
  console.log(
    `\ninstructions per request   ${comparison.on.padEnd(9)}  ${comparison.off.padEnd(9)}  on / off`,
  );
  for (const key of ['total', 'garbageCollection', 'rest'] as const) {
    console.log(
      `${key.padEnd(25)} ${onFigures[key].toFixed(0).padStart(9)}  ${offFigures[key].toFixed(0).padStart(9)}` +
        `    ${(onFigures[key] / offFigures[key]).toFixed(3)}`,
    );
  }
  const names = new Set([...on.keys(), ...off.keys()]);
  const differences = [...names]
    .map((name) => ({ name, on: perRequest(on.get(name) ?? 0), off: perRequest(off.get(name) ?? 0) }))
    .sort((a, b) => Math.abs(b.on - b.off) - Math.abs(a.on - a.off))
    .slice(0, 25);
  console.log('\nlargest differences (instructions per request; JIT names can differ by inlining)');
  for (const row of differences) {
    console.log(
      `${(row.on - row.off).toFixed(0).padStart(8)}  ${row.on.toFixed(0).padStart(8)}  ` +
        `${row.off.toFixed(0).padStart(8)}  ${row.name.slice(0, 110)}`,
    );
  }
  return {
    compare: options.compare,
    requests,
    warmupRequests,
    connections,
    on: onFigures,
    off: offFigures,
    differences,
  };
}

async function main(): Promise<void> {
  const scope = await createScope();
  const services: CountedService[] = [];
  const outDir = path.join(RESULTS_DIR, `instructions-${fileStamp()}`);
  mkdirSync(outDir, { recursive: true });
  let plane: BenchPlane | undefined;
  try {
    console.log(`bench:router:instructions  prefix ${scope.prefix}  setup`);
    // bench:router's defaults, so both count the same setup.
    const defaults = parseOptions([])!;
    plane = await createPlane(scope, defaults);
    const env = withRedis(
      plane,
      serviceEnv(plane, {
        ROUTER_SHARD_POOL_SIZE: String(defaults.poolSize),
        AUTH_TOKEN_CACHE_SIZE: String(defaults.tokenCacheSize),
        // Under valgrind code runs many times slower the first time through: opening the first database
        // connections can outlast the default wait, and the server would be taken for unreachable.
        ROUTER_ACQUIRE_TIMEOUT_MS: '60000',
      }),
    );
    console.log(`starting ${comparison.on} and ${comparison.off} under callgrind (about a minute)`);
    for (const [name, toggle] of [
      [comparison.on, 'on'],
      [comparison.off, 'off'],
    ] as const) {
      services.push(await startUnderCallgrind(name, { ...env, ...comparison.env(toggle) }, outDir));
    }
    const [on, off] = services as [CountedService, CountedService];
    const headers = { authorization: `Bearer ${plane.shard.token}` };
    const limited = await fetch(`${on.url}${LIST_PATH}`, { headers });
    const unlimited = await fetch(`${off.url}${LIST_PATH}`, { headers });
    if (
      options.compare === 'ops' &&
      (limited.headers.get('x-ratelimit-limit') === null ||
        unlimited.headers.get('x-ratelimit-limit') !== null)
    ) {
      throw new Error('ops-on must send X-RateLimit headers and ops-off none');
    }
    await Promise.all([limited.arrayBuffer(), unlimited.arrayBuffer()]);
    console.log(
      `each: ${warmupRequests} requests to warm up, then ${requests} counted, ${connections} at a time`,
    );
    // Both at once: counts do not depend on the machine's speed, and two cores serve two valgrinds.
    const [onCounts, offCounts] = await Promise.all([measure(on, plane), measure(off, plane)]);
    const result = report(onCounts, offCounts);
    writeFileSync(path.join(outDir, 'report.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nresults: ${path.relative(REPO_ROOT, outDir)}`);
  } finally {
    await Promise.all(services.map(stop));
    await plane?.tp.close();
    await dropEverything(scope.prefix);
    await rm(scope.dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
