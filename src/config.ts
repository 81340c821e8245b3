import path from 'node:path';
import { ConfigError } from './errors/index.js';
import { DATABASE_PREFIX_PATTERN } from './ids.js';

export interface AuthConfig {
  /** JWKS endpoint of the identity provider; unset selects the built-in development issuer. */
  jwksUrl: string | undefined;
  issuer: string | undefined;
  audience: string | undefined;
  /** AUTH_TOKEN_CACHE_SIZE: verified tokens remembered (0 = verify every request). */
  tokenCacheSize: number;
  /** The console's sign-in through the identity provider; unset offers only a pasted token. */
  consoleOidc: ConsoleOidcConfig | undefined;
}

export interface ConsoleOidcConfig {
  /** CONSOLE_OIDC_CLIENT_ID: the console's public client (PKCE, no secret) at AUTH_ISSUER. */
  clientId: string;
  /** CONSOLE_OIDC_SCOPE: the scopes the console asks for. Default `openid tenantplane:admin`. */
  scope: string;
}

export interface Config {
  production: boolean;
  /** Unset means: start an embedded PostgreSQL under `dataDir` (development only). */
  controlDatabaseUrl: string | undefined;
  redisUrl: string | undefined;
  /**
   * Where background jobs run: `redis` (BullMQ queues that any `tenantctl worker` takes) with REDIS_URL,
   * `inline` (in the calling process, lost with it) without. JOBS=inline states the latter on purpose,
   * which production requires instead of REDIS_URL.
   */
  jobs: 'redis' | 'inline';
  auth: AuthConfig;
  backupUrl: string | undefined;
  kmsKeyId: string | undefined;
  port: number;
  /** Folder for development state: embedded PostgreSQL, development keys. Default `.data`. */
  dataDir: string;
  /** Base64 of 32 bytes that seals connection secrets in the catalog; unset uses a key file in `dataDir`. */
  catalogSecretKey: string | undefined;
  /** Prefix of every database and role name tenantplane creates. Default `tp`. */
  databasePrefix: string;
  /** LOG_LEVEL: one of pino's levels. Default: the caller's (see `loadConfig`), else `info`. */
  logLevel: LogLevel;
  /** TENANT_MIGRATIONS_DIR: folder of tenant migrations; unset uses the package's `tenant-migrations/`. */
  tenantMigrationsDir: string | undefined;
  /** JOBS_PREFIX: Redis key prefix of the job queues and of the shared rate-limit counters. Default `tenantplane`. */
  jobsPrefix: string;
  /** TENANT_DOMAIN: base domain of tenant subdomains (`acme.<domain>`), checked against the token. */
  tenantDomain: string | undefined;
  /**
   * TRUST_PROXY=on (or true): take the client address and host from X-Forwarded-* (behind a load balancer).
   * Default off; a value other than on, off, true or false is refused rather than read as off.
   */
  trustProxy: boolean;
  /** Router tuning from ROUTER_* variables; unset fields keep the router's defaults. */
  router: RouterConfig;
  /** RATE_LIMITS=off: no per-tenant request limits and no X-RateLimit-* headers. Default on. */
  rateLimits: boolean;
  metrics: MetricsConfig;
  /** SHUTDOWN_GRACE_MS: after SIGTERM/SIGINT, how long in-flight requests and running jobs get to finish. */
  shutdownGraceMs: number;
  /** How `serve` and `worker` processes hold their place in the catalog's instance registry. */
  instances: InstancesConfig;
  /** What a `tenantctl worker` runs; its `--concurrency` and `--health-port` flags take precedence. */
  worker: WorkerConfig;
  /**
   * MOVE_CUTOVER: how a move's pause finds what changed since its last catch-up: `capture` (default; row
   * triggers on the source note each changed row, so the pause does not grow with the tenant) or `compare`
   * (digests of the whole tenant on both sides, for sources where triggers are unwelcome).
   */
  moveCutover: 'capture' | 'compare';
  /** Usage metering for billing (see docs/usage.md). */
  usage: UsageConfig;
}

export interface UsageConfig {
  /** USAGE_METERING=off: serving instances count no usage. Default on. */
  metering: boolean;
  /** USAGE_FLUSH_INTERVAL_MS: how often each instance writes its counts (100-3600000). Default 5000. */
  flushIntervalMs: number;
  /** USAGE_RETENTION_DAYS: hours of usage older than this many days are deleted (1-36500). Default 400. */
  retentionDays: number;
}

/** pino's levels; `silent` logs nothing. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface WorkerConfig {
  /** WORKER_CONCURRENCY: jobs run at once per queue (1-1000). Default 4. */
  concurrency: number;
  /** WORKER_HEALTH_PORT: port of the worker's `/health` and `/ready` (0: any free port); unset serves none. */
  healthPort: number | undefined;
}

/** Defaults that depend on the process reading the configuration, not on the deployment. */
export interface ConfigDefaults {
  /** LOG_LEVEL when unset. Default `info`; `tenantctl` commands other than serve and worker pass `warn`. */
  logLevel?: LogLevel;
}

export interface MetricsConfig {
  /** METRICS=off: no /metrics and nothing measured per request. Default on. */
  enabled: boolean;
  /** METRICS_TOKEN: when set, /metrics answers only `Authorization: Bearer <token>`. */
  token: string | undefined;
  /** METRICS_TENANT_LABELS: tenants with a label of their own in the per-tenant counter. Default 100. */
  tenantLabels: number;
}

export interface InstancesConfig {
  /** INSTANCE_HEARTBEAT_MS: how often an instance renews its lease and looks at the budget shares. Default 1000. */
  heartbeatMs: number;
  /**
   * INSTANCE_LEASE_MS: how long after its last renewal an instance counts as gone, so that the others take
   * its share and moves stop waiting for it. It also bounds how long an instance cut off from the control
   * database keeps serving. At least 3 heartbeats plus 1000. Default 10000.
   */
  leaseMs: number;
}

export interface RouterConfig {
  /**
   * ROUTER_MAX_POOLS: retired. The router keeps connections, not pools, and each server's budget bounds
   * them; the value is still checked so a deployment that sets it starts, and a warning says it is ignored.
   */
  retiredMaxPools?: number;
  /** ROUTER_IDLE_MS: an idle connection unused this long is closed. */
  idleMs?: number;
  /** ROUTER_SHARD_POOL_SIZE: connections per shard pool. */
  shardPoolSize?: number;
  /** ROUTER_ACQUIRE_TIMEOUT_MS: wait for a connection before 503. */
  acquireTimeoutMs?: number;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function toggle(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const value = optional(env, name)?.toLowerCase();
  if (value === undefined) return fallback;
  if (value === 'on' || value === 'true') return true;
  if (value === 'off' || value === 'false') return false;
  throw new ConfigError(`${name} must be on or off, got ${JSON.stringify(value)}`);
}

function logLevel(env: NodeJS.ProcessEnv, fallback: LogLevel): LogLevel {
  const value = optional(env, 'LOG_LEVEL')?.toLowerCase();
  if (value === undefined) return fallback;
  const level = LOG_LEVELS.find((known) => known === value);
  if (level === undefined) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return level;
}

function optional(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * Reads and checks the environment once, at start; a bad value fails here and not on the first request.
 * Nothing else reads tenantplane's variables. Read elsewhere, and not ours to check: the AWS SDK's own
 * (`AWS_REGION`, `AWS_ENDPOINT_URL`, ...), the login's `USER` (the CLI's audit actor) and `DEBUG` (stack
 * traces of unexpected CLI failures; the `debug` package of express and others reads it too).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, defaults: ConfigDefaults = {}): Config {
  const production = env.NODE_ENV === 'production';
  const auth: AuthConfig = {
    jwksUrl: optional(env, 'AUTH_JWKS_URL'),
    issuer: optional(env, 'AUTH_ISSUER'),
    audience: optional(env, 'AUTH_AUDIENCE'),
    tokenCacheSize: integer(env, 'AUTH_TOKEN_CACHE_SIZE', 10000, 0, 10_000_000),
    consoleOidc: consoleOidc(env),
  };
  const authSet = [auth.jwksUrl, auth.issuer, auth.audience].filter((v) => v !== undefined).length;
  if (authSet !== 0 && authSet !== 3) {
    throw new ConfigError('set all of AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE, or none of them');
  }
  if (auth.consoleOidc) assertConsoleIssuer(auth.issuer);
  const databasePrefix = optional(env, 'TENANT_DATABASE_PREFIX') ?? 'tp';
  if (!DATABASE_PREFIX_PATTERN.test(databasePrefix)) {
    throw new ConfigError(
      `TENANT_DATABASE_PREFIX must match ${DATABASE_PREFIX_PATTERN}, got ${databasePrefix}`,
    );
  }
  const redisUrl = optional(env, 'REDIS_URL');
  const config: Config = {
    production,
    controlDatabaseUrl: optional(env, 'CONTROL_DATABASE_URL'),
    redisUrl,
    jobs: jobsMode(env, redisUrl),
    auth,
    backupUrl: optional(env, 'BACKUP_URL'),
    kmsKeyId: optional(env, 'KMS_KEY_ID'),
    port: integer(env, 'PORT', 3000, 0, 65535),
    dataDir: path.resolve(optional(env, 'TENANTPLANE_DATA_DIR') ?? '.data'),
    catalogSecretKey: optional(env, 'CATALOG_SECRET_KEY'),
    databasePrefix,
    logLevel: logLevel(env, defaults.logLevel ?? 'info'),
    tenantMigrationsDir: optional(env, 'TENANT_MIGRATIONS_DIR'),
    jobsPrefix: optional(env, 'JOBS_PREFIX') ?? 'tenantplane',
    tenantDomain: optional(env, 'TENANT_DOMAIN')?.toLowerCase(),
    trustProxy: toggle(env, 'TRUST_PROXY', false),
    router: routerConfig(env),
    rateLimits: toggle(env, 'RATE_LIMITS', true),
    metrics: {
      enabled: toggle(env, 'METRICS', true),
      token: optional(env, 'METRICS_TOKEN'),
      tenantLabels: integer(env, 'METRICS_TENANT_LABELS', 100, 1, 10000),
    },
    shutdownGraceMs: integer(env, 'SHUTDOWN_GRACE_MS', 10000, 0, 3600000),
    instances: instancesConfig(env),
    moveCutover: moveCutover(env),
    usage: {
      metering: toggle(env, 'USAGE_METERING', true),
      flushIntervalMs: integer(env, 'USAGE_FLUSH_INTERVAL_MS', 5000, 100, 3_600_000),
      retentionDays: integer(env, 'USAGE_RETENTION_DAYS', 400, 1, 36_500),
    },
    worker: {
      concurrency: integer(env, 'WORKER_CONCURRENCY', 4, 1, 1000),
      healthPort:
        optional(env, 'WORKER_HEALTH_PORT') === undefined
          ? undefined
          : integer(env, 'WORKER_HEALTH_PORT', 0, 0, 65535),
    },
  };
  if (production) assertNoDevelopmentFallbacks(config, env);
  return config;
}

/** An OAuth client id or scope token: visible ASCII, no quote or backslash (RFC 6749, appendix A). */
const OAUTH_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

function consoleOidc(env: NodeJS.ProcessEnv): ConsoleOidcConfig | undefined {
  const clientId = optional(env, 'CONSOLE_OIDC_CLIENT_ID');
  const scope = optional(env, 'CONSOLE_OIDC_SCOPE');
  if (clientId === undefined) {
    if (scope !== undefined) throw new ConfigError('CONSOLE_OIDC_SCOPE needs CONSOLE_OIDC_CLIENT_ID');
    return undefined;
  }
  if (!OAUTH_TOKEN.test(clientId)) {
    throw new ConfigError(
      `CONSOLE_OIDC_CLIENT_ID must be visible ASCII characters, got ${JSON.stringify(clientId)}`,
    );
  }
  const scopes = (scope ?? 'openid tenantplane:admin').split(/\s+/);
  if (!scopes.every((part) => OAUTH_TOKEN.test(part))) {
    throw new ConfigError(
      `CONSOLE_OIDC_SCOPE must be space-separated scope names, got ${JSON.stringify(scope)}`,
    );
  }
  return { clientId, scope: scopes.join(' ') };
}

/**
 * The console talks to the identity provider from the browser, at `<AUTH_ISSUER>/.well-known/...`: the
 * issuer must be that provider's URL (https, or http on a loopback host for development).
 */
function assertConsoleIssuer(issuer: string | undefined): void {
  if (issuer === undefined) {
    throw new ConfigError(
      'CONSOLE_OIDC_CLIENT_ID needs AUTH_ISSUER (with AUTH_JWKS_URL and AUTH_AUDIENCE): the console signs in through that identity provider',
    );
  }
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ConfigError(
      `CONSOLE_OIDC_CLIENT_ID needs AUTH_ISSUER to be a URL, got ${JSON.stringify(issuer)}`,
    );
  }
  const loopback =
    url.hostname === 'localhost' || url.hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new ConfigError(
      `CONSOLE_OIDC_CLIENT_ID needs AUTH_ISSUER to use https (plain http only to a loopback host), got ${JSON.stringify(issuer)}`,
    );
  }
}

function moveCutover(env: NodeJS.ProcessEnv): 'capture' | 'compare' {
  const value = optional(env, 'MOVE_CUTOVER')?.toLowerCase() ?? 'capture';
  if (value !== 'capture' && value !== 'compare') {
    throw new ConfigError(`MOVE_CUTOVER must be capture or compare, got ${value}`);
  }
  return value;
}

/**
 * JOBS: `redis` or `inline`; unset, whichever REDIS_URL implies. A value that contradicts REDIS_URL is
 * refused rather than one of them silently ignored.
 */
function jobsMode(env: NodeJS.ProcessEnv, redisUrl: string | undefined): 'redis' | 'inline' {
  const value = optional(env, 'JOBS')?.toLowerCase();
  if (value === undefined) return redisUrl ? 'redis' : 'inline';
  if (value !== 'inline' && value !== 'redis') {
    throw new ConfigError(`JOBS must be inline or redis, got ${JSON.stringify(value)}`);
  }
  if (value === 'redis' && !redisUrl) throw new ConfigError('JOBS=redis needs REDIS_URL');
  if (value === 'inline' && redisUrl) {
    throw new ConfigError(
      'JOBS=inline runs jobs in the calling process, but REDIS_URL is set (jobs would go to Redis): unset one',
    );
  }
  return value;
}

/**
 * What `serve` logs as a warning at start: settings that work but put something at risk. In production,
 * an open /metrics names tenants (the per-tenant request counter's `tenant` label) to whoever reaches the
 * port.
 */
export function serveWarnings(config: Config): string[] {
  const warnings: string[] = [];
  if (config.production && config.metrics.enabled && !config.metrics.token) {
    warnings.push(
      'METRICS_TOKEN is not set: GET /metrics answers anyone who reaches the port, and its per-tenant ' +
        'series expose tenant ids and their traffic; set METRICS_TOKEN (or METRICS=off)',
    );
  }
  return warnings;
}

function instancesConfig(env: NodeJS.ProcessEnv): InstancesConfig {
  const heartbeatMs = integer(env, 'INSTANCE_HEARTBEAT_MS', 1000, 100, 60000);
  const leaseMs = integer(env, 'INSTANCE_LEASE_MS', 10000, 1000, 600000);
  if (leaseMs < 3 * heartbeatMs + 1000) {
    throw new ConfigError(
      `INSTANCE_LEASE_MS must be at least 3 × INSTANCE_HEARTBEAT_MS + 1000 (${3 * heartbeatMs + 1000}), got ${leaseMs}`,
    );
  }
  return { heartbeatMs, leaseMs };
}

function routerConfig(env: NodeJS.ProcessEnv): RouterConfig {
  const config: RouterConfig = {};
  const read = (name: string, key: keyof RouterConfig, min: number, max: number) => {
    if (optional(env, name) !== undefined) config[key] = integer(env, name, 0, min, max);
  };
  read('ROUTER_MAX_POOLS', 'retiredMaxPools', 1, 100000);
  read('ROUTER_IDLE_MS', 'idleMs', 1000, 86400000);
  read('ROUTER_SHARD_POOL_SIZE', 'shardPoolSize', 1, 1000);
  read('ROUTER_ACQUIRE_TIMEOUT_MS', 'acquireTimeoutMs', 100, 600000);
  return config;
}

/** In production every development fallback is refused, all at once, so one restart fixes them all. */
function assertNoDevelopmentFallbacks(config: Config, env: NodeJS.ProcessEnv): void {
  const missing: string[] = [];
  if (!config.controlDatabaseUrl)
    missing.push('CONTROL_DATABASE_URL (else an embedded PostgreSQL would start)');
  if (!config.redisUrl && optional(env, 'JOBS') === undefined) {
    missing.push(
      'REDIS_URL (else rate limits count per replica and queued jobs are lost on restart), ' +
        'or JOBS=inline to run jobs in the calling process on purpose',
    );
  }
  if (!config.auth.jwksUrl)
    missing.push('AUTH_JWKS_URL, AUTH_ISSUER, AUTH_AUDIENCE (else the development issuer)');
  if (!config.catalogSecretKey) missing.push('CATALOG_SECRET_KEY (else a development key file)');
  if (!config.backupUrl) missing.push('BACKUP_URL (else file storage under .data/)');
  if (!config.kmsKeyId) missing.push('KMS_KEY_ID (else a development key file)');
  if (missing.length > 0) {
    throw new ConfigError(`NODE_ENV=production refuses development fallbacks; set: ${missing.join('; ')}`);
  }
}
