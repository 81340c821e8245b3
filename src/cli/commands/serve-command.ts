import type { Command } from 'commander';
import { serveWarnings } from '../../config.js';
import { printQuickStart, seedQuickStart } from '../../embedded/quick-start.js';
import { listenApi } from '../../http/app.js';
import { InFlightRequests } from '../../http/in-flight-requests.js';
import { runCommand } from '../command-runner.js';
import { openServingRuntime } from '../runtime.js';
import { onShutdownSignal } from '../shutdown.js';

/** `serve`: the HTTP API. With nothing configured it is the quick start (embedded PostgreSQL and demo tenants). */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the HTTP API (with nothing configured: the embedded quick start)')
    .action(
      runCommand(async () => {
        const runtime = await openServingRuntime({ logLevel: 'info' });
        const { tp, embedded, logger } = runtime;
        for (const warning of serveWarnings(tp.config)) logger.warn(warning);
        const server = await listenApi(tp);
        const requests = new InFlightRequests(server);
        const address = server.address();
        const port = typeof address === 'object' && address ? address.port : tp.config.port;
        const baseUrl = `http://127.0.0.1:${port}`;
        if (embedded) {
          const summary = await seedQuickStart(tp, embedded.url);
          process.stdout.write(printQuickStart(summary, baseUrl));
        }
        logger.info({ port }, 'tenantplane listening');

        onShutdownSignal(logger, {
          message: 'shutting down: no new connections, finishing requests in flight',
          graceMs: tp.config.shutdownGraceMs,
          async stop() {
            // /ready turns 503 first, for the load balancer probes that still reach this process.
            tp.lifecycle.draining = true;
            logger.info({ inFlight: requests.size }, 'waiting for requests in flight');
            await requests.drain();
            await runtime.close();
          },
          async overrun() {
            requests.abort();
          },
        });
      }),
    );
}
