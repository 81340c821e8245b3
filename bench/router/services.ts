import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/support/free-port.js';
import { processCpuSeconds, waitForExit } from '../lib/proc.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Variables of the bench's own environment that would change how a service child behaves. */
const SCRUBBED = [
  /^AUTH_/,
  /^ROUTER_/,
  /^CATALOG_SECRET_KEY$/,
  /^CONTROL_DATABASE_URL$/,
  /^TENANT_DATABASE_PREFIX$/,
  /^TENANTPLANE_DATA_DIR$/,
  /^TENANT_MIGRATIONS_DIR$/,
  /^NODE_OPTIONS$/,
  /^NODE_ENV$/,
  /^LOG_LEVEL$/,
  /^PORT$/,
  // A tenantplane service traces only when the run asks for it (--tracing on).
  /^OTEL_/,
];

export interface ServiceSpec {
  name: string;
  /** Script relative to the repository root, run with `node --import tsx`. */
  script: string;
  args?: string[];
  env: Record<string, string>;
  /** Where the child's stdout and stderr go. */
  logFile: string;
  /** Folder for a V8 CPU profile of the child (`--cpu-prof`), written when it exits. */
  cpuProfileDir?: string;
}

export interface Service {
  name: string;
  url: string;
  pid: number;
  logFile: string;
  /** Seconds of CPU (user + system) the child has used so far. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** Every child started and not yet stopped, so that cleanup (or Ctrl-C) can stop them all. */
const running = new Set<() => Promise<void>>();

export async function stopAllServices(): Promise<void> {
  await Promise.all([...running].map((stop) => stop()));
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * Starts a service as a child process on a free port and waits until its /health answers. The child runs
 * `node --import tsx <script>`, which is what the `tsx` command does, minus its extra wrapper process.
 */
export async function startService(spec: ServiceSpec): Promise<Service> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!SCRUBBED.some((pattern) => pattern.test(key))) env[key] = value;
  }
  Object.assign(env, spec.env, { PORT: String(port) });
  const nodeArgs = spec.cpuProfileDir
    ? ['--cpu-prof', `--cpu-prof-dir=${spec.cpuProfileDir}`, `--cpu-prof-name=${spec.name}.cpuprofile`]
    : [];
  const log = openSync(spec.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', spec.script, ...(spec.args ?? [])], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', log, log],
    });
  } finally {
    closeSync(log);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${spec.name} did not start`);
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    running.delete(stop);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    // tenantplane gives in-flight requests up to 10 s (SHUTDOWN_GRACE_MS); then it is killed.
    if (!(await waitForExit(child, 15000))) {
      child.kill('SIGKILL');
      await waitForExit(child, 5000);
    }
  };
  running.add(stop);
  const service: Service = {
    name: spec.name,
    url,
    pid,
    logFile: spec.logFile,
    cpuSeconds: () => processCpuSeconds(pid),
    stop,
  };

  const deadline = Date.now() + 60000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${spec.name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${tail(spec.logFile)}`,
      );
    }
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return service;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${spec.name} did not become ready within 60 s:\n${tail(spec.logFile)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
