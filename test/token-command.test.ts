import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { DevIssuer } from '../src/auth/dev-issuer.js';
import { runTenantctl } from './support/tenantctl.js';

describe('tenantctl token: scopes and tenant roles', function () {
  // Each tenantctl child loads the CLI from source.
  this.timeout(120000);
  let dataDir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'tenantplane-token-'));
    // Minting needs no catalog: only the development issuer's key in the data folder.
    env = { ...process.env, TENANTPLANE_DATA_DIR: dataDir, LOG_LEVEL: 'silent' };
    for (const name of ['AUTH_JWKS_URL', 'AUTH_ISSUER', 'AUTH_AUDIENCE']) delete env[name];
  });
  after(async () => rm(dataDir, { recursive: true, force: true }));

  async function claimsOf(stdout: string) {
    const issuer = await DevIssuer.load(dataDir);
    const { payload } = await jwtVerify(JSON.parse(stdout).token, createLocalJWKSet(issuer.jwks()), {
      issuer: 'tenantplane-dev',
      audience: 'tenantplane',
    });
    return payload;
  }

  it('mints a token of one admin scope, or of a tenant with a role', async () => {
    const [scoped, viewer] = await Promise.all([
      runTenantctl(env, 'token', '--scope', 'tenantplane:operator', '--json'),
      runTenantctl(env, 'token', '--tenant', 'acme', '--tenant-role', 'viewer', '--json'),
    ]);
    for (const result of [scoped, viewer]) expect(result.code, result.stderr).to.equal(0);
    const operator = await claimsOf(scoped.stdout);
    expect(operator.scope).to.equal('tenantplane:operator');
    expect(operator.tenant_id).to.equal(undefined);
    expect(await claimsOf(viewer.stdout)).to.include({ tenant_id: 'acme', tenant_role: 'viewer' });
  });

  it('refuses an unknown scope or role, and a role without a tenant, with exit 2', async () => {
    const refusals = await Promise.all([
      runTenantctl(env, 'token', '--scope', 'tenantplane:root'),
      runTenantctl(env, 'token', '--tenant', 'acme', '--tenant-role', 'owner'),
      runTenantctl(env, 'token', '--scope', 'tenantplane:viewer', '--tenant-role', 'viewer'),
    ]);
    expect(refusals.map((result) => result.code)).to.deep.equal([2, 2, 2]);
    expect(refusals[0]!.stderr).to.include('--scope must be one of');
    expect(refusals[1]!.stderr).to.include('--tenant-role must be one of');
  });
});
