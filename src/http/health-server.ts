import { createServer, type Server } from 'node:http';
import express from 'express';
import type { Logger } from '../logging/logger.js';
import { errorHandler, notFound } from './error-handler.js';
import { listen } from './listen.js';
import { type HealthSources, healthRoutes } from './routes/health.js';

/**
 * `/health` and `/ready` alone, for processes that serve no API (`tenantctl worker`), so that container
 * health checks and Kubernetes probes work for them as for the API.
 */
export function listenHealth(
  sources: HealthSources & { logger: Logger },
  port: number,
  host?: string,
): Promise<Server> {
  const app = express();
  app.disable('x-powered-by');
  app.use(healthRoutes(sources));
  app.use(notFound());
  app.use(errorHandler(sources.logger));
  return listen(createServer(app), port, host);
}
