import { type LogLevel, loadConfig } from '../config.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../embedded/embedded-postgres.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { createDatabaseIfMissing, withAdminClient } from '../provisioning/admin-connection.js';
import { Tenantplane, type TenantplaneOptions } from '../tenantplane.js';

/** The embedded server's catalog database, beside the tenant databases the quick start creates on it. */
const EMBEDDED_CONTROL_DATABASE = 'tenantplane_control';

export interface Runtime {
  tp: Tenantplane;
  /** Set when no CONTROL_DATABASE_URL was given and the embedded PostgreSQL serves instead. */
  embedded: EmbeddedPostgres | undefined;
  logger: Logger;
  close(): Promise<void>;
}

/**
 * Opens tenantplane for a CLI command. Without CONTROL_DATABASE_URL (development only; production mode is
 * refused by loadConfig) it starts, or joins, the embedded PostgreSQL under the data folder.
 */
export async function openRuntime(
  options: Partial<TenantplaneOptions> & { logLevel?: LogLevel } = {},
): Promise<Runtime> {
  const config = loadConfig(process.env, { logLevel: options.logLevel ?? 'warn' });
  const logger = createLogger(config.logLevel);
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
    const tp = await Tenantplane.open({ ...options, config, logger, controlDatabaseUrl });
    return {
      tp,
      embedded,
      logger,
      async close() {
        await tp.close();
        await embedded?.stop();
      },
    };
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}

/** Opens a runtime for one command's work and closes it afterwards, whatever happens. */
export async function withRuntime<T>(
  options: Parameters<typeof openRuntime>[0],
  work: (runtime: Runtime) => Promise<T>,
): Promise<T> {
  const runtime = await openRuntime(options);
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}
