import type { Server } from 'node:http';
import type { Command } from 'commander';
import { printQuickStart, seedQuickStart } from '../../embedded/quick-start.js';
import { runCommand } from '../command-runner.js';
import { openRuntime } from '../runtime.js';
import { onShutdownSignal } from '../shutdown.js';

/** How long in-flight requests get to finish after SIGTERM/SIGINT before the process exits anyway. */
const SHUTDOWN_GRACE_MS = Number(process.env.SHUTDOWN_GRACE_MS ?? 10000);

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/** `serve`: the HTTP API. With nothing configured it is the quick start (embedded PostgreSQL and demo tenants). */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP API (with nothing configured: the embedded quick start)')
    .action(
      runCommand(async () => {
        const runtime = await openRuntime({ logLevel: 'info' });
        const { tp, embedded, logger } = runtime;
        const server = await tp.listen();
        const address = server.address();
        const port = typeof address === 'object' && address ? address.port : tp.config.port;
        const baseUrl = `http://127.0.0.1:${port}`;
        if (embedded) {
          const summary = await seedQuickStart(tp, embedded.url);
          process.stdout.write(printQuickStart(summary, baseUrl));
        }
        logger.info({ port }, 'tenantplane listening');

        onShutdownSignal(logger, 'shutting down', async () => {
          const timer = setTimeout(() => {
            logger.error('grace period over; exiting with requests still open');
            process.exit(1);
          }, SHUTDOWN_GRACE_MS);
          timer.unref();
          await closeServer(server);
          await runtime.close();
          clearTimeout(timer);
        });
      }),
    );
}
