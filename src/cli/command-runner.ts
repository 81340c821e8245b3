import { type ErrorCode, InvalidInputError, TenantplaneError } from '../errors/index.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Options every command takes. */
export interface CommonOptions {
  json?: boolean;
}

/** Exit code for an error: bad input is 2, anything else that went wrong is 1. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof InvalidInputError) return EXIT_USAGE;
  return EXIT_FAILED;
}

/** Prints a failed command's error the way the command's output mode asks for, and sets the exit code. */
export function reportFailure(error: unknown, json: boolean): void {
  const code: ErrorCode = error instanceof TenantplaneError ? error.code : 'failed';
  const message = error instanceof Error ? error.message : String(error);
  if (json) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
  process.stderr.write(`error: ${message}${error instanceof TenantplaneError ? ` (${code})` : ''}\n`);
  // DEBUG is not tenantplane's to check (the `debug` package reads it too, e.g. DEBUG=express:*), and a
  // failure is reported whether or not the configuration loaded: any value prints the stack.
  if (!(error instanceof TenantplaneError) && process.env.DEBUG && error instanceof Error) {
    process.stderr.write(`${error.stack}\n`);
  }
  process.exitCode = exitCodeFor(error);
}

/** Wraps a command's action so that failures map to exit codes instead of stack traces. */
export function runCommand<A extends unknown[]>(
  action: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const options = args.findLast((arg) => typeof arg === 'object' && arg !== null && 'json' in arg) as
      | CommonOptions
      | undefined;
    try {
      await action(...args);
    } catch (error) {
      reportFailure(error, Boolean(options?.json));
    }
  };
}
