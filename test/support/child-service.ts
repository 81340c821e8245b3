import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { adminQuery } from './test-plane.js';

export interface Answer {
  status: number;
  body: string;
}

/** One request on a connection of its own (no keep-alive pool that could hide a refused connection). */
export function request(
  base: string,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}${path}`,
      {
        method,
        agent: false,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** A `tenantctl` child process that listens on a port it chose and logged. */
export interface ChildService {
  child: ChildProcess;
  base: string;
  stderr(): string;
  exited: Promise<number | null>;
}

/**
 * Starts `tenantctl <args>` and resolves once its log line `message` carries the port (field `portField`)
 * it listens on. Fails with the child's output if it exits first.
 */
export async function startTenantctl(
  args: string[],
  env: NodeJS.ProcessEnv,
  message: string,
  portField = 'port',
): Promise<ChildService> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: { LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const pattern = new RegExp(`"${portField}":(\\d+)[^\\n]*"msg":"${message}"`);
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      const match = pattern.exec(stderr);
      if (match) resolve(Number(match[1]));
    });
    exited.then((code) => reject(new Error(`tenantctl ${args[0]} exited with ${code} early:\n${stderr}`)));
  });
  return { child, base: `http://127.0.0.1:${port}`, stderr: () => stderr, exited };
}

/**
 * Waits until some session of `database` is blocked on a lock: the work the test holds up is truly in
 * flight. `settled` resolving first (the work did not wait) fails with what it resolved to. Asked on a
 * connection of its own: inside the locking transaction pg_stat_activity would be a frozen snapshot.
 */
export async function blockedOnLock(database: string, settled: Promise<unknown>): Promise<void> {
  let outcome: unknown;
  settled.then((value) => {
    outcome = value ?? 'settled';
  });
  for (;;) {
    if (outcome) throw new Error(`the work did not wait for the lock: ${JSON.stringify(outcome)}`);
    const waiting = await adminQuery<{ n: number }>(
      'postgres',
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = $1 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
      [database],
    );
    if (waiting.rows[0]!.n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
