import { createServer, type Server } from 'node:http';
import express, { type Express, type RequestHandler } from 'express';
import { authenticate } from '../auth/authenticate.js';
import { authorizeAdmin } from '../auth/authorize-admin.js';
import { auditImpersonatedRequests } from '../auth/impersonation-audit.js';
import { enforceTenantRole } from '../auth/tenant-role.js';
import type { ServingServices } from '../plane/services.js';
import { traceRequests } from '../tracing/request-spans.js';
import { tracingOn } from '../tracing/spans.js';
import { chain } from './chain.js';
import { consoleRoutes } from './console-config.js';
import { errorHandler, notFound } from './error-handler.js';
import { assertStorableBody } from './json-input.js';
import { listen } from './listen.js';
import { rateLimit } from './rate-limit.js';
import { mountedAt } from './request-metrics.js';
import { adminApi } from './routes/admin-api.js';
import { adminAuditApi } from './routes/admin-audit.js';
import { adminBackupDrillsApi } from './routes/admin-backup-drills.js';
import { adminBackupSchedulesApi } from './routes/admin-backup-schedules.js';
import { adminBackupsApi } from './routes/admin-backups.js';
import { adminFleetApi } from './routes/admin-fleet.js';
import { adminFleetHealthApi } from './routes/admin-fleet-health.js';
import { adminImpersonationsApi } from './routes/admin-impersonations.js';
import { adminJobsApi } from './routes/admin-jobs.js';
import { adminMigrationsApi } from './routes/admin-migrations.js';
import { adminPlacementApi } from './routes/admin-placement.js';
import { adminServersApi } from './routes/admin-servers.js';
import { adminTiersApi } from './routes/admin-tiers.js';
import { adminUsageApi } from './routes/admin-usage.js';
import { applicationApi } from './routes/application-api.js';
import { healthRoutes } from './routes/health.js';
import { metricsEndpoint } from './routes/metrics-endpoint.js';
import { openApiRoute } from './routes/openapi.js';
import { securityHeaders } from './security-headers.js';
import { tenantContext } from './tenant-context.js';
import { trackRequests } from './track-requests.js';

/**
 * Parses JSON bodies of the methods that carry one; GET and DELETE skip the parser entirely. A body with
 * text PostgreSQL cannot store (U+0000, an unpaired surrogate) or nested too deep is refused here, with
 * 400 `invalid_field`, whatever route it is for.
 */
function jsonBodies(): RequestHandler {
  const json = express.json({ limit: '256kb' });
  return (req, res, next) => {
    if (req.method === 'GET' || req.method === 'DELETE') return next();
    json(req, res, (error?: unknown) => {
      if (error) return next(error);
      try {
        assertStorableBody(req.body);
      } catch (refused) {
        return next(refused);
      }
      next();
    });
  };
}

/** Where the application API and the admin API are mounted. */
const APPLICATION_API = '/api/v1';
const ADMIN_API = '/admin/v1';
/** Where applications find the keys of impersonation tokens (docs/roles-and-impersonation.md). */
const IMPERSONATION_JWKS_PATH = '/.well-known/tenantplane-impersonation-jwks.json';

/** The service's express app: the application API, the admin API, health and, in development, the JWKS. */
export function createApp(tp: ServingServices): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', tp.config.trustProxy);
  const metrics = tp.config.metrics.enabled ? tp.metrics : undefined;
  app.use(trackRequests({ logger: tp.logger, metrics, usage: tp.usage }));
  // Only while tracing runs: off, the request path has no tracing layer at all.
  if (tracingOn()) app.use(traceRequests());
  app.use(securityHeaders());
  // The application API first, as one layer: it is the hot path, and every layer costs on each request.
  const hotPath: RequestHandler[] = [
    ...(metrics ? [mountedAt(APPLICATION_API)] : []),
    authenticate(tp.verifier),
    enforceTenantRole({ beforeImpersonatedRequest: auditImpersonatedRequests(tp) }),
    tenantContext(tp.router, tp.config.tenantDomain ? { tenantDomain: tp.config.tenantDomain } : {}),
    ...(tp.rateLimiter ? [rateLimit(tp.rateLimiter)] : []),
    jsonBodies(),
    applicationApi(tp),
  ];
  app.use(APPLICATION_API, chain(...hotPath));
  app.use(
    ADMIN_API,
    mountedAt(ADMIN_API),
    authenticate(tp.verifier),
    jsonBodies(),
    // After the body: whether a restore overwrites the tenant depends on it (see admin-scopes.ts).
    authorizeAdmin(),
    adminApi(tp),
    adminTiersApi(tp),
    adminMigrationsApi(tp),
    adminJobsApi(tp),
    adminAuditApi(tp),
    adminServersApi(tp),
    adminPlacementApi(tp),
    adminBackupsApi(tp.backups),
    adminBackupDrillsApi(tp),
    adminBackupSchedulesApi(tp.backups),
    adminUsageApi(tp),
    adminImpersonationsApi(tp),
    adminFleetApi(tp),
    adminFleetHealthApi(tp),
  );
  if (metrics) app.get('/metrics', metricsEndpoint(metrics, tp.config.metrics.token));
  app.use(healthRoutes(tp));
  app.get('/openapi.json', openApiRoute());
  const devIssuer = tp.devIssuer;
  if (devIssuer) app.get('/.well-known/jwks.json', (_req, res) => res.json(devIssuer.jwks()));
  app.get(IMPERSONATION_JWKS_PATH, (_req, res) => res.json(tp.impersonation.jwks()));
  app.use('/console', consoleRoutes(tp.config.auth));
  app.use(notFound());
  app.use(errorHandler(tp.logger));
  return app;
}

/** Starts the HTTP API on `port` (default: PORT). */
export function listenApi(
  services: ServingServices,
  port = services.config.port,
  host?: string,
): Promise<Server> {
  return listen(createServer(createApp(services)), port, host);
}
