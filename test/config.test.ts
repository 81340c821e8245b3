import { expect } from 'chai';
import { loadConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

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

  it('accepts a complete production configuration', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      CONTROL_DATABASE_URL: 'postgres://control@db/control',
      AUTH_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json',
      AUTH_ISSUER: 'https://idp.example.com/',
      AUTH_AUDIENCE: 'tenantplane',
      CATALOG_SECRET_KEY: Buffer.alloc(32, 1).toString('base64'),
      BACKUP_URL: 's3://backups/tenantplane',
      KMS_KEY_ID: 'alias/tenantplane',
    });
    expect(config.production).to.equal(true);
  });

  it('rejects half an identity provider, bad numbers and bad prefixes at start', () => {
    expect(configError({ AUTH_JWKS_URL: 'https://idp/jwks' })).to.include('AUTH_ISSUER');
    expect(configError({ PORT: 'eighty' })).to.include('PORT');
    expect(configError({ ROUTER_MAX_POOLS: '0' })).to.include('ROUTER_MAX_POOLS');
    expect(configError({ TENANT_DATABASE_PREFIX: 'Bad-Prefix' })).to.include('TENANT_DATABASE_PREFIX');
  });
});
