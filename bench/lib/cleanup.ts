/** How a bench ends: its own failures, its cleanup run once (also on Ctrl-C), what it created dropped. */

import { rm } from 'node:fs/promises';
import { dropEverything } from '../../test/support/test-plane.js';
import { log, silenceLog } from './log.js';

/** A failure of the bench itself (as opposed to a missed target): the run exits non-zero. */
export class BenchFailure extends Error {}

/** The message of a bench's failure: its own in a few words, anything else with its stack. */
export function failureText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return error instanceof BenchFailure ? message : `bench failed: ${(error as Error)?.stack ?? message}`;
}

/** `cleanup` run at most once, however often (and from wherever) it is asked for. */
export function once(cleanup: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => {
    running ??= cleanup();
    return running;
  };
}

let interrupted = false;

/** Whether SIGINT or SIGTERM came: the bench stops starting new work. */
export function wasInterrupted(): boolean {
  return interrupted;
}

/**
 * On SIGINT or SIGTERM: says `signal: message`, runs `cleanup`, exits 130. `silence`: from then on only
 * cleanup speaks (log() writes nothing more).
 */
export function cleanUpOnSignal(message: string, cleanup: () => Promise<void>, silence: boolean): void {
  const onSignal = (signal: NodeJS.Signals) => {
    log(`\n${signal}: ${message}`);
    interrupted = true;
    if (silence) silenceLog();
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

/** Waits for `closing` at most `ms` (a pool that hangs must not hold the cleanup up); rejects as it does. */
export async function closeWithin(closing: Promise<unknown>, ms = 5000): Promise<void> {
  const timeout = new Promise((resolve) => setTimeout(resolve, ms).unref());
  await Promise.race([closing, timeout]);
}

/**
 * Drops every database and role of the bench's prefix and removes its data folder; a failure to drop is
 * reported through `report`, not thrown.
 */
export async function dropScope(
  scope: { prefix: string; dataDir: string },
  report: (line: string) => void,
): Promise<void> {
  await dropEverything(scope.prefix).catch((error) =>
    report(`cleanup: dropping ${scope.prefix}_* failed: ${error}`),
  );
  await rm(scope.dataDir, { recursive: true, force: true });
}
