import { LocalKeyProvider } from '../backup/key-provider.js';
import { KmsKeyProvider } from '../backup/kms-key-provider.js';
import { BackupHealth } from '../backup/monitoring/backup-health.js';
import { openObjectStore } from '../backup/object-store-factory.js';
import { startBackupSchedule } from '../backup/schedules/backup-scheduler.js';
import { TenantKeyring } from '../backup/tenant-keyring.js';
import { Catalog } from '../catalog/catalog.js';
import { connectControlDatabase, migrateControlDatabase } from '../catalog/control-database.js';
import { SecretBox } from '../catalog/secret-box.js';
import { ConfigError } from '../errors/index.js';
import { InstanceRegistry } from '../instances/instance-registry.js';
import { checkRedisEvictionPolicy } from '../jobs/redis-eviction-policy.js';
import { TenantRateLimiter } from '../limits/tenant-rate-limiter.js';
import { createLogger } from '../logging/logger.js';
import { watchBackupHealth } from '../metrics/backup-series.js';
import { Metrics } from '../metrics/metrics.js';
import { MigrationLedger } from '../migrations/migration-ledger.js';
import { DEFAULT_TENANT_MIGRATIONS_DIR } from '../paths.js';
import { PlacementPolicy } from '../placement/placement-policy.js';
import type { ProvisioningContext } from '../provisioning/provisioning-context.js';
import { ServerProvisioner } from '../provisioning/server-provisioner.js';
import { ShardProvisioner } from '../provisioning/shard-provisioner.js';
import { TenantProvisioner } from '../provisioning/tenant-provisioner.js';
import { UsageMeter } from '../usage/usage-meter.js';
import { startUsageSampling } from '../usage/usage-sampler.js';
import { buildJobServices } from './job-services.js';
import type { PlaneOptions, Services, ServingServices } from './services.js';
import { openRoutingParts } from './serving-parts.js';

/**
 * The composition root: builds every long-lived part from the config once, in the order of their
 * dependencies, and hands each only what it uses. With `serveTraffic: false` (CLI commands that only
 * provision) there is no router, change channel or token verifier.
 */
export function openServices(options: PlaneOptions & { serveTraffic: false }): Promise<Services>;
export function openServices(options: PlaneOptions & { serveTraffic?: true }): Promise<ServingServices>;
export function openServices(options: PlaneOptions): Promise<Services | ServingServices>;
export async function openServices(options: PlaneOptions): Promise<Services | ServingServices> {
  const { config } = options;
  const logger = options.logger ?? createLogger(config.logLevel);
  const controlDatabaseUrl = options.controlDatabaseUrl ?? config.controlDatabaseUrl;
  if (!controlDatabaseUrl) throw new ConfigError('CONTROL_DATABASE_URL is not set');
  if (options.migrate ?? true) await migrateControlDatabase(controlDatabaseUrl);
  if (config.production && config.redisUrl) {
    await checkRedisEvictionPolicy(config.redisUrl, { production: true });
  }
  const secrets = config.catalogSecretKey
    ? SecretBox.fromBase64(config.catalogSecretKey)
    : await SecretBox.fromKeyFile(config.dataDir);
  const objectStore = openObjectStore(config.backupUrl, config.dataDir);
  const masterKey = config.kmsKeyId
    ? new KmsKeyProvider({ keyId: config.kmsKeyId })
    : await LocalKeyProvider.load(config.dataDir);
  const knex = connectControlDatabase(controlDatabaseUrl);
  const catalog = new Catalog(knex, secrets);
  const tenantMigrationsDir =
    options.tenantMigrationsDir ?? config.tenantMigrationsDir ?? DEFAULT_TENANT_MIGRATIONS_DIR;
  const context: ProvisioningContext = {
    catalog,
    databasePrefix: config.databasePrefix,
    tenantMigrationsDir,
    logger,
  };
  const serveTraffic = options.serveTraffic ?? true;
  const kind = options.instance ?? (serveTraffic ? 'serve' : undefined);
  if (kind === 'serve' && !serveTraffic) throw new TypeError('a serve instance serves traffic');
  const registry = kind
    ? new InstanceRegistry({ knex, kind, logger, ...config.instances, ...options.registry })
    : undefined;
  if (config.router.retiredMaxPools !== undefined) {
    logger.warn('ROUTER_MAX_POOLS is retired and ignored: each server budget bounds the router connections');
  }
  const routing =
    serveTraffic && registry
      ? await openRoutingParts(
          { config, catalog, controlDatabaseUrl, logger, registry, secrets },
          options.router,
        )
      : undefined;
  await registry?.start();

  const placement = new PlacementPolicy({ catalog });
  const tenants = new TenantProvisioner(context, placement);
  const backupKeys = new TenantKeyring({ knex, master: masterKey });
  const jobsPrefix = options.jobsPrefix ?? config.jobsPrefix;
  const metrics = new Metrics({ tenantLabels: config.metrics.tenantLabels });
  const ledger = new MigrationLedger(knex);
  const jobServices = buildJobServices({
    config,
    logger,
    catalog,
    tenants,
    placement,
    objectStore,
    backupKeys,
    metrics,
    ledger,
    tenantMigrationsDir,
    controlDatabaseUrl,
    jobsPrefix,
  });
  // Without REDIS_URL the serving process runs the backup schedules itself (with it, the workers do).
  if (kind === 'serve' && !jobServices.jobs.distributed) {
    await startBackupSchedule(jobServices.jobs, registry?.id);
    await startUsageSampling(jobServices.jobs);
  }
  const services: Omit<Services, 'close'> = {
    config,
    logger,
    controlDatabaseUrl,
    knex,
    catalog,
    placement,
    servers: new ServerProvisioner(context),
    shards: new ShardProvisioner(context),
    tenants,
    tenantMigrationsDir,
    jobsPrefix,
    objectStore,
    backupKeys,
    registry,
    metrics,
    ledger,
    ...jobServices,
    lifecycle: { draining: false },
  };
  if (!routing || !registry) {
    return {
      ...services,
      async close() {
        await jobServices.jobs.close();
        await registry?.close();
        await knex.destroy();
      },
    };
  }
  const { directory, router } = routing;
  metrics.watchPools(router.pools);
  metrics.watchCatalogCache(directory);
  watchBackupHealth(metrics, new BackupHealth(catalog.knex));
  // Counters live in the Redis the job queues use; the database prefix keeps deployments apart.
  const rateLimiter = config.rateLimits
    ? new TenantRateLimiter({
        redisUrl: config.redisUrl,
        keyPrefix: `${jobsPrefix}:rate:${config.databasePrefix}`,
        logger,
      })
    : undefined;
  const usage = config.usage.metering
    ? new UsageMeter({ knex, logger, flushIntervalMs: config.usage.flushIntervalMs }).start()
    : undefined;
  return {
    ...services,
    ...routing,
    registry,
    rateLimiter,
    usage,
    async close() {
      await jobServices.jobs.close();
      await rateLimiter?.close();
      await router.close();
      // After the router: requests still finishing have been counted. Before the catalog closes.
      await usage?.close();
      // Once the router's connections are closed, its share of the budget may go to the others.
      await registry.close();
      await directory.close();
      await knex.destroy();
    },
  };
}
