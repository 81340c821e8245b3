import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TenantctlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tenantctl` from source as a child process with `env`; a failure is an exit code, not a throw. */
export async function runTenantctl(env: NodeJS.ProcessEnv, ...args: string[]): Promise<TenantctlResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      env,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
