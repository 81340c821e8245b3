import { type LogLevel, loadConfig } from '../config.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../embedded/embedded-postgres.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { openServices } from '../plane/open-services.js';
import type { PlaneOptions, Services, ServingServices } from '../plane/services.js';
import { createDatabaseIfMissing, withAdminClient } from '../provisioning/admin-connection.js';
import { startTracing } from '../tracing/tracing-sdk.js';

/** The embedded server's catalog database, beside the tenant databases the quick start creates on it. */
const EMBEDDED_CONTROL_DATABASE = 'tenantplane_control';

export interface Runtime<S extends Services = Services> {
  tp: S;
  /** Set when no CONTROL_DATABASE_URL was given and the embedded PostgreSQL serves instead. */
  embedded: EmbeddedPostgres | undefined;
  logger: Logger;
  close(): Promise<void>;
}

type RuntimeOptions = Partial<PlaneOptions> & { logLevel?: LogLevel };

/** Opens tenantplane for a CLI command that serves no tenant traffic (see openWith). */
export function openRuntime(options: RuntimeOptions & { serveTraffic: false }): Promise<Runtime> {
  return openWith(options, (planeOptions) => openServices({ ...planeOptions, serveTraffic: false }));
}

/** Opens tenantplane for `serve`: the router, token verifier and change channel too (see openWith). */
export function openServingRuntime(
  options: RuntimeOptions & { serveTraffic?: true },
): Promise<Runtime<ServingServices>> {
  return openWith(options, (planeOptions) => openServices({ ...planeOptions, serveTraffic: true }));
}

/**
 * Without CONTROL_DATABASE_URL (development only; production mode is refused by loadConfig) it starts, or
 * joins, the embedded PostgreSQL under the data folder.
 */
async function openWith<S extends Services>(
  options: RuntimeOptions,
  open: (options: PlaneOptions) => Promise<S>,
): Promise<Runtime<S>> {
  const config = loadConfig(process.env, { logLevel: options.logLevel ?? 'warn' });
  const logger = createLogger(config.logLevel);
  // Before anything is built: the app mounts its tracing layer only if tracing runs by then.
  const tracing = await startTracing(process.env, logger);
  let embedded: EmbeddedPostgres | undefined;
  let controlDatabaseUrl = config.controlDatabaseUrl;
  if (!controlDatabaseUrl) {
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, log: (line) => logger.debug(line) });
    await withAdminClient(embedded.url, (client) =>
      createDatabaseIfMissing(client, EMBEDDED_CONTROL_DATABASE),
    );
    const url = new URL(embedded.url);
    url.pathname = `/${EMBEDDED_CONTROL_DATABASE}`;
    controlDatabaseUrl = url.toString();
  }
  try {
    const tp = await open({ ...options, config, logger, controlDatabaseUrl });
    return {
      tp,
      embedded,
      logger,
      async close() {
        await tp.close();
        await embedded?.stop();
        // Last: the spans of the shutdown itself are exported too.
        await tracing?.shutdown();
      },
    };
  } catch (error) {
    await embedded?.stop();
    await tracing?.shutdown();
    throw error;
  }
}

/** Opens a runtime for one command's work and closes it afterwards, whatever happens. */
export async function withRuntime<T>(
  options: RuntimeOptions & { serveTraffic: false },
  work: (runtime: Runtime) => Promise<T>,
): Promise<T> {
  const runtime = await openRuntime(options);
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}
