import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig, serveWarnings } from '../src/config.js';
import { ConfigError } from '../src/errors/index.js';
import { runTenantctl } from './support/tenantctl.js';
import { copyOfTenantMigrations, createTestPlane } from './support/test-plane.js';

function configError(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a configuration error');
}

describe('configuration', () => {
  it('uses development fallbacks when nothing is set', () => {
    const config = loadConfig({});
    expect(config).to.include({
      production: false,
      controlDatabaseUrl: undefined,
      port: 3000,
      databasePrefix: 'tp',
    });
    expect(config.auth.jwksUrl).to.equal(undefined);
  });

  it('refuses every development fallback in production, naming each variable', () => {
    const message = configError({ NODE_ENV: 'production' });
    for (const name of [
      'CONTROL_DATABASE_URL',
      'AUTH_JWKS_URL',
      'CATALOG_SECRET_KEY',
      'BACKUP_URL',
      'KMS_KEY_ID',
    ]) {
      expect(message).to.include(name);
    }
  });

  const production: NodeJS.ProcessEnv = {
    NODE_ENV: 'production',
    CONTROL_DATABASE_URL: 'postgres://control@db/control',
    REDIS_URL: 'redis://redis:6379',
    AUTH_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json',
    AUTH_ISSUER: 'https://idp.example.com/',
    AUTH_AUDIENCE: 'tenantplane',
    CATALOG_SECRET_KEY: Buffer.alloc(32, 1).toString('base64'),
    BACKUP_URL: 's3://backups/tenantplane',
    KMS_KEY_ID: 'alias/tenantplane',
    METRICS_TOKEN: 'scrape-secret',
  };

  it('accepts a complete production configuration', () => {
    const config = loadConfig(production);
    expect(config.production).to.equal(true);
    expect(config.jobs).to.equal('redis');
    expect(serveWarnings(config)).to.deep.equal([]);
  });

  it('refuses production without REDIS_URL unless JOBS=inline says jobs run in the calling process on purpose', () => {
    const { REDIS_URL: _redis, ...withoutRedis } = production;
    const message = configError(withoutRedis);
    expect(message).to.include('REDIS_URL');
    expect(message).to.include('JOBS=inline');
    // Listed with the other fallbacks, so one restart fixes them all.
    const everything = configError({ NODE_ENV: 'production' });
    expect(everything).to.include('REDIS_URL').and.include('CATALOG_SECRET_KEY');
    const inline = loadConfig({ ...withoutRedis, JOBS: 'inline' });
    expect([inline.jobs, inline.redisUrl]).to.deep.equal(['inline', undefined]);
    expect(configError({ ...withoutRedis, JOBS: 'redis' })).to.include('JOBS=redis needs REDIS_URL');
    expect(configError({ ...production, JOBS: 'inline' })).to.include('JOBS=inline');
    expect(configError({ JOBS: 'sometimes' })).to.include('JOBS must be inline or redis');
    // Development keeps running jobs inline without Redis, as before.
    expect(loadConfig({}).jobs).to.equal('inline');
    expect(loadConfig({ REDIS_URL: 'redis://localhost:6379' }).jobs).to.equal('redis');
  });

  it('warns at serve start in production when /metrics is on without METRICS_TOKEN, naming the risk', () => {
    const { METRICS_TOKEN: _token, ...open } = production;
    const warnings = serveWarnings(loadConfig(open));
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.include('METRICS_TOKEN').and.include('tenant ids');
    expect(serveWarnings(loadConfig({ ...open, METRICS: 'off' }))).to.deep.equal([]);
    expect(serveWarnings(loadConfig({}))).to.deep.equal([]);
  });

  it('rejects half an identity provider, bad numbers and bad prefixes at start', () => {
    expect(configError({ AUTH_JWKS_URL: 'https://idp/jwks' })).to.include('AUTH_ISSUER');
    expect(configError({ PORT: 'eighty' })).to.include('PORT');
    expect(configError({ ROUTER_MAX_POOLS: '0' })).to.include('ROUTER_MAX_POOLS');
    expect(configError({ TENANT_DATABASE_PREFIX: 'Bad-Prefix' })).to.include('TENANT_DATABASE_PREFIX');
  });

  it('takes the instance lease and heartbeat, and refuses a lease shorter than three heartbeats plus a second', () => {
    expect(loadConfig({}).instances).to.deep.equal({ heartbeatMs: 1000, leaseMs: 10000 });
    expect(loadConfig({ INSTANCE_HEARTBEAT_MS: '250', INSTANCE_LEASE_MS: '2000' }).instances).to.deep.equal({
      heartbeatMs: 250,
      leaseMs: 2000,
    });
    expect(configError({ INSTANCE_HEARTBEAT_MS: '1000', INSTANCE_LEASE_MS: '3999' })).to.include(
      'INSTANCE_LEASE_MS must be at least 3 × INSTANCE_HEARTBEAT_MS + 1000',
    );
    expect(configError({ INSTANCE_LEASE_MS: 'soon' })).to.include('INSTANCE_LEASE_MS');
  });

  it('still accepts the retired ROUTER_MAX_POOLS, so a deployment that sets it starts', () => {
    expect(loadConfig({ ROUTER_MAX_POOLS: '100' }).router.retiredMaxPools).to.equal(100);
  });

  it('honours TRUST_PROXY=on as it does true, and refuses what it would otherwise read as off', () => {
    expect(loadConfig({}).trustProxy).to.equal(false);
    for (const value of ['on', 'true', 'ON', 'True']) {
      expect(loadConfig({ TRUST_PROXY: value }).trustProxy, value).to.equal(true);
    }
    for (const value of ['off', 'false', 'OFF', '']) {
      expect(loadConfig({ TRUST_PROXY: value }).trustProxy, value).to.equal(false);
    }
    for (const value of ['1', 'yes', '10.0.0.0/8']) {
      expect(configError({ TRUST_PROXY: value }), value).to.include('TRUST_PROXY');
    }
  });

  it('takes the worker concurrency and health port, and refuses bad ones naming the variable', () => {
    expect(loadConfig({}).worker).to.deep.equal({ concurrency: 4, healthPort: undefined });
    expect(loadConfig({ WORKER_CONCURRENCY: '8', WORKER_HEALTH_PORT: '9464' }).worker).to.deep.equal({
      concurrency: 8,
      healthPort: 9464,
    });
    expect(loadConfig({ WORKER_HEALTH_PORT: '0' }).worker.healthPort).to.equal(0);
    for (const value of ['four', '0', '2.5', '-1']) {
      expect(configError({ WORKER_CONCURRENCY: value }), value).to.include('WORKER_CONCURRENCY');
    }
    for (const value of ['health', '65536', '-1']) {
      expect(configError({ WORKER_HEALTH_PORT: value }), value).to.include('WORKER_HEALTH_PORT');
    }
  });

  it('takes LOG_LEVEL over the caller default, and refuses a level pino does not have', () => {
    expect(loadConfig({}).logLevel).to.equal('info');
    expect(loadConfig({}, { logLevel: 'warn' }).logLevel).to.equal('warn');
    expect(loadConfig({ LOG_LEVEL: 'debug' }, { logLevel: 'warn' }).logLevel).to.equal('debug');
    expect(loadConfig({ LOG_LEVEL: 'SILENT' }).logLevel).to.equal('silent');
    expect(configError({ LOG_LEVEL: 'verbose' })).to.include('LOG_LEVEL');
  });

  it('takes the job prefix and tenant migrations folder from the configuration, not from the process', async function () {
    this.timeout(30000);
    const migrations = await copyOfTenantMigrations();
    const saved = {
      JOBS_PREFIX: process.env.JOBS_PREFIX,
      TENANT_MIGRATIONS_DIR: process.env.TENANT_MIGRATIONS_DIR,
    };
    process.env.JOBS_PREFIX = 'from-the-process';
    process.env.TENANT_MIGRATIONS_DIR = path.join(os.tmpdir(), 'not-the-configured-folder');
    try {
      const plane = await createTestPlane(
        { serveTraffic: false },
        { JOBS_PREFIX: 'tpconfigured', TENANT_MIGRATIONS_DIR: migrations },
      );
      try {
        expect([plane.tp.jobsPrefix, plane.tp.tenantMigrationsDir]).to.deep.equal([
          'tpconfigured',
          migrations,
        ]);
      } finally {
        await plane.close();
      }
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await rm(migrations, { recursive: true, force: true });
    }
    // Unset, the defaults: the `tenantplane` prefix and the package's tenant-migrations/.
    expect(loadConfig({}).jobsPrefix).to.equal('tenantplane');
    expect(loadConfig({}).tenantMigrationsDir).to.equal(undefined);
  });

  describe('tenantctl, given a bad value', function () {
    this.timeout(30000);
    let dataDir: string;
    let env: NodeJS.ProcessEnv;
    before(async () => {
      dataDir = await mkdtemp(path.join(os.tmpdir(), 'tenantctl-config-'));
      // Nothing here may reach a database: a bad value stops the command before it connects.
      env = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        CONTROL_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
        REDIS_URL: 'redis://127.0.0.1:1',
        TENANTPLANE_DATA_DIR: dataDir,
      };
    });
    after(() => rm(dataDir, { recursive: true, force: true }));

    it('stops the worker naming WORKER_CONCURRENCY, not a flag it was not given', async () => {
      const result = await runTenantctl({ ...env, WORKER_CONCURRENCY: '0' }, 'worker');
      expect(result.code).to.equal(1);
      expect(result.stderr).to.include('WORKER_CONCURRENCY').and.include('invalid_config');
      expect(result.stderr).to.not.include('--concurrency');
    });

    it('stops a command naming LOG_LEVEL', async () => {
      const result = await runTenantctl({ ...env, LOG_LEVEL: 'verbose' }, 'tenants', 'list');
      expect(result.code).to.equal(1);
      expect(result.stderr).to.include('LOG_LEVEL').and.include('invalid_config');
    });
  });
});
