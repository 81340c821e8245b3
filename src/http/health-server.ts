import { createServer, type Server } from 'node:http';
import express from 'express';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { errorHandler, notFound } from './error-handler.js';
import { listen } from './listen.js';
import { type HealthSources, healthRoutes } from './routes/health.js';
import { metricsEndpoint } from './routes/metrics-endpoint.js';

/** The process's metrics, served at `/metrics` beside the probes (with the metrics token when one is set). */
export interface HealthServerMetrics {
  metrics: Metrics;
  token: string | undefined;
}

/**
 * `/health` and `/ready`, and `/metrics` when given, for processes that serve no API (`tenantctl worker`):
 * container health checks and Kubernetes probes work for them as for the API, and Prometheus reads the
 * job series of the processes that run the jobs.
 */
export function listenHealth(
  sources: HealthSources & { logger: Logger },
  port: number,
  host?: string,
  exposed?: HealthServerMetrics,
): Promise<Server> {
  const app = express();
  app.disable('x-powered-by');
  app.use(healthRoutes(sources));
  if (exposed) app.get('/metrics', metricsEndpoint(exposed.metrics, exposed.token));
  app.use(notFound());
  app.use(errorHandler(sources.logger));
  return listen(createServer(app), port, host);
}
