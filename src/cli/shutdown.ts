import type { Logger } from '../logging/logger.js';

export interface ShutdownPlan {
  /** Logged with the signal when shutdown begins. */
  message: string;
  /** How long `stop` may take, in ms (SHUTDOWN_GRACE_MS). */
  graceMs: number;
  /** Finishes the work in hand and releases everything; the process then exits 0 on its own. */
  stop(): Promise<void>;
  /**
   * Runs once the grace period is over with `stop` unfinished, just before the process exits with 1:
   * the last chance to hand unfinished work back (jobs to their queue) rather than drop it.
   */
  overrun?(): Promise<void>;
}

/**
 * Runs `plan.stop` once, on the first SIGINT or SIGTERM. A stop that fails, or that outlasts the grace
 * period, ends the process with exit code 1 instead of leaving it half shut down; a second signal
 * does not cut the grace period short (orchestrators send SIGKILL when they stop waiting).
 */
export function onShutdownSignal(logger: Logger, plan: ShutdownPlan): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: plan.graceMs }, plan.message);
    const deadline = setTimeout(() => {
      logger.error({ graceMs: plan.graceMs }, 'grace period over; exiting with work unfinished');
      const overrun = plan.overrun?.() ?? Promise.resolve();
      overrun
        .catch((error) => logger.error({ err: error }, 'could not hand back unfinished work'))
        .finally(() => process.exit(1));
    }, plan.graceMs);
    plan.stop().then(
      () => {
        clearTimeout(deadline);
        logger.info('shut down');
      },
      (error) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
}
