import type { Command } from 'commander';
import { startBackupSchedule } from '../../backup/schedules/backup-scheduler.js';
import { ConfigError, InvalidInputError } from '../../errors/index.js';
import { listenHealth } from '../../http/health-server.js';
import { startWorkers } from '../../jobs/bullmq-job-queue.js';
import { startUsageSampling } from '../../usage/usage-sampler.js';
import { runCommand } from '../command-runner.js';
import { openRuntime } from '../runtime.js';
import { onShutdownSignal } from '../shutdown.js';

/** `worker`: runs queued jobs (fleet migrations, and later exports and backups) from Redis. */
export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run background jobs from the Redis queues (needs REDIS_URL)')
    .option('--concurrency <n>', 'jobs run at once per queue (default: WORKER_CONCURRENCY, else 4)')
    .option(
      '--health-port <port>',
      'serve /health, /ready and /metrics on this port (for container health checks, probes and Prometheus; default: WORKER_HEALTH_PORT)',
    )
    .action(
      runCommand(async (flags: { concurrency?: string; healthPort?: string }) => {
        if (
          flags.concurrency !== undefined &&
          (!/^\d+$/.test(flags.concurrency) || Number(flags.concurrency) < 1)
        ) {
          throw new InvalidInputError('--concurrency must be a positive integer');
        }
        const flagPort = flags.healthPort === undefined ? undefined : Number(flags.healthPort);
        if (flagPort !== undefined && !(Number.isInteger(flagPort) && flagPort >= 0 && flagPort < 65536)) {
          throw new InvalidInputError('--health-port must be a port number');
        }
        const runtime = await openRuntime({ serveTraffic: false, instance: 'worker', logLevel: 'info' });
        const { tp, logger } = runtime;
        if (!tp.config.redisUrl) {
          await runtime.close();
          throw new ConfigError('tenantctl worker needs REDIS_URL');
        }
        const concurrency =
          flags.concurrency === undefined ? tp.config.worker.concurrency : Number(flags.concurrency);
        const healthPort = flagPort ?? tp.config.worker.healthPort;
        const workers = startWorkers({
          redisUrl: tp.config.redisUrl,
          prefix: tp.jobsPrefix,
          handlers: tp.jobHandlers,
          concurrency,
          logger,
        });
        // The tick of the backup schedules: one job scheduler in Redis, whichever workers set it.
        await startBackupSchedule(tp.jobs);
        // The usage sampler's tick, likewise (see docs/usage.md).
        await startUsageSampling(tp.jobs);
        const metrics = tp.config.metrics.enabled
          ? { metrics: tp.metrics, token: tp.config.metrics.token }
          : undefined;
        const health =
          healthPort === undefined ? undefined : await listenHealth(tp, healthPort, undefined, metrics);
        const address = health?.address();
        logger.info(
          {
            queues: Object.keys(tp.jobHandlers),
            concurrency,
            ...(address && typeof address === 'object' ? { healthPort: address.port } : {}),
          },
          'worker started',
        );
        onShutdownSignal(logger, {
          message: 'worker stopping: no new jobs, finishing the ones in progress',
          graceMs: tp.config.shutdownGraceMs,
          async stop() {
            tp.lifecycle.draining = true;
            logger.info({ active: workers.activeCount }, 'waiting for jobs in progress');
            await workers.close();
            // Probes keep their answers (/ready: 503) until the jobs are done.
            if (health) {
              health.closeAllConnections();
              await new Promise((resolve) => health.close(resolve));
            }
            await runtime.close();
          },
          async overrun() {
            const returned = await workers.requeueActive();
            logger.warn({ returned }, 'jobs in progress handed back to their queues');
          },
        });
      }),
    );
}
