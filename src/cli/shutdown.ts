import type { Logger } from '../logging/logger.js';

/**
 * Runs `stop` once, on the first SIGINT or SIGTERM, logging `message` with the signal. A stop that fails
 * is logged and ends the process with exit code 1 instead of leaving it half shut down.
 */
export function onShutdownSignal(logger: Logger, message: string, stop: () => Promise<void>): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, message);
    stop().catch((error) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.once('SIGINT', handle);
  process.once('SIGTERM', handle);
}
