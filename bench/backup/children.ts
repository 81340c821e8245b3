/** What bench:backup times in child processes: tenantplane's operations (operation.ts), pg_dump and pg_restore. */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../../src/paths.js';

const run = promisify(execFile);

export function binary(name: string): string {
  const candidate = `/usr/lib/postgresql/15/bin/${name}`;
  return existsSync(candidate) ? candidate : name;
}

export async function timed(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const started = process.hrtime.bigint();
  await run(command, args, { env, maxBuffer: 64 * 1024 * 1024 });
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** Runs operation.ts in a child process; its own clock and peak RSS come back as JSON. */
export function operation(
  env: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<Record<string, unknown> & { ms: number; maxRssMb: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(PACKAGE_ROOT, 'bench/backup/operation.ts'), ...args],
      {
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`operation ${args.join(' ')} exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1)!));
    });
  });
}

export type Operation = Awaited<ReturnType<typeof operation>>;
