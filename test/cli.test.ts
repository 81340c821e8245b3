import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { DevIssuer } from '../src/auth/dev-issuer.js';
import { TEST_POSTGRES_URL } from './setup/hooks.js';
import { adminQuery, adminUrlFor, dropEverything } from './support/test-plane.js';

const run = promisify(execFile);

describe('tenantctl', function () {
  this.timeout(60000);
  const prefix = `t${Math.random().toString(16).slice(2, 10)}`;
  let dataDir: string;
  let env: NodeJS.ProcessEnv;

  async function tenantctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await run(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', ...args],
        { env },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  before(async () => {
    await adminQuery('postgres', `CREATE DATABASE "${prefix}_control"`);
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'tenantctl-test-'));
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      CONTROL_DATABASE_URL: adminUrlFor(`${prefix}_control`),
      TENANT_DATABASE_PREFIX: prefix,
      TENANTPLANE_DATA_DIR: dataDir,
    };
  });
  after(async () => {
    await dropEverything(prefix);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('provisions a server, a shard and tenants, with --json results', async () => {
    expect((await tenantctl('control', 'migrate', '--json')).code).to.equal(0);
    const server = await tenantctl(
      'servers',
      'add',
      'pg-cli',
      '--url',
      TEST_POSTGRES_URL,
      '--max-connections',
      '20',
      '--json',
    );
    expect(server.code, server.stderr).to.equal(0);
    expect(JSON.parse(server.stdout)).to.include({ id: 'pg-cli', maxConnections: 20 });
    expect((await tenantctl('shards', 'add', 'shard-x', '--server', 'pg-cli')).code).to.equal(0);
    const created = await tenantctl(
      'tenants',
      'create',
      'cli-co',
      '--tier',
      'pro',
      '--name',
      'CLI Co',
      '--json',
    );
    expect(created.code, created.stderr).to.equal(0);
    expect(JSON.parse(created.stdout)).to.deep.include({ id: 'cli-co', name: 'CLI Co', status: 'active' });
    const list = await tenantctl('tenants', 'list', '--json');
    expect(JSON.parse(list.stdout).map((tenant: { id: string }) => tenant.id)).to.deep.equal(['cli-co']);
    const human = await tenantctl('tenants', 'show', 'cli-co');
    expect(human.stdout).to.match(/placement: shard shard-x/);
    expect(JSON.parse((await tenantctl('tenants', 'suspend', 'cli-co', '--json')).stdout).status).to.equal(
      'suspended',
    );
    expect(JSON.parse((await tenantctl('tenants', 'resume', 'cli-co', '--json')).stdout).status).to.equal(
      'active',
    );
  });

  it('reports fleet migration status and fails --check on drift', async () => {
    const dry = await tenantctl('migrate', 'up', '--dry-run', '--json');
    expect(dry.code, dry.stderr).to.equal(0);
    expect(
      JSON.parse(dry.stdout).targets.map((target: { planned: string[] }) => target.planned),
    ).to.deep.equal([[]]);
    const status = await tenantctl('migrate', 'status', '--check', '--json');
    expect(status.code, status.stderr).to.equal(0);
    expect(JSON.parse(status.stdout)[0]).to.deep.include({
      databaseId: 'shard-x',
      drift: false,
      pending: [],
    });
    await adminQuery(
      `${prefix}_s_shard_x`,
      "INSERT INTO tenantplane.schema_migrations (name) VALUES ('0999_unknown')",
    );
    const drifted = await tenantctl('migrate', 'status', '--check');
    expect(drifted.code).to.equal(1);
    expect(drifted.stdout).to.include('0999_unknown');
    await adminQuery(
      `${prefix}_s_shard_x`,
      "DELETE FROM tenantplane.schema_migrations WHERE name = '0999_unknown'",
    );
  });

  it('exits 2 for invalid input and bad usage, 1 for a failed operation', async () => {
    const invalid = await tenantctl('tenants', 'create', "bad'id", '--tier', 'pro', '--json');
    expect(invalid.code).to.equal(2);
    expect(JSON.parse(invalid.stdout).error.code).to.equal('invalid_id');
    expect((await tenantctl('tenants', 'create', 'no-tier-given')).code).to.equal(2);
    expect((await tenantctl('tenants', 'frobnicate')).code).to.equal(2);
    const unconfirmed = await tenantctl('tenants', 'delete', 'cli-co', '--confirm', 'other');
    expect(unconfirmed.code).to.equal(2);
    expect(unconfirmed.stderr).to.include('--confirm cli-co');
    const missing = await tenantctl('tenants', 'show', 'nobody-here', '--json');
    expect(missing.code).to.equal(1);
    expect(JSON.parse(missing.stdout).error.code).to.equal('tenant_not_found');
  });

  it('deletes a tenant after confirmation', async () => {
    const deleted = await tenantctl('tenants', 'delete', 'cli-co', '--confirm', 'cli-co', '--json');
    expect(deleted.code, deleted.stderr).to.equal(0);
    expect(JSON.parse(deleted.stdout).status).to.equal('deleted');
  });

  it('mints development tokens that the development issuer verifies', async () => {
    const minted = await tenantctl('token', '--tenant', 'cli-co', '--json');
    expect(minted.code, minted.stderr).to.equal(0);
    const issuer = await DevIssuer.load(dataDir);
    const { payload } = await jwtVerify(JSON.parse(minted.stdout).token, createLocalJWKSet(issuer.jwks()), {
      issuer: 'tenantplane-dev',
      audience: 'tenantplane',
    });
    expect(payload.tenant_id).to.equal('cli-co');
    expect((await tenantctl('token')).code).to.equal(2);
    env.AUTH_JWKS_URL = 'https://idp.example.com/jwks';
    env.AUTH_ISSUER = 'https://idp.example.com/';
    env.AUTH_AUDIENCE = 'tenantplane';
    const refused = await tenantctl('token', '--admin');
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include('identity provider');
  });

  it('refuses development fallbacks with NODE_ENV=production', async () => {
    const production = await tenantctl('tenants', 'list');
    expect(production.code).to.equal(0);
    env.NODE_ENV = 'production';
    const refused = await tenantctl('tenants', 'list');
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include('CATALOG_SECRET_KEY');
  });
});
