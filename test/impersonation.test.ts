import http from 'node:http';
import { expect } from 'chai';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { createLogger, type Logger } from '../src/logging/logger.js';
import { type ChildService, startTenantctl } from './support/child-service.js';
import { callJson } from './support/http-client.js';
import { AUDIENCE, closer, fakeIdentityProvider, ISSUER, listen, sign } from './support/identity-provider.js';
import { logSink } from './support/log-sink.js';
import { addManagedServer } from './support/managed-admin.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

const FIFTEEN_MINUTES = 15 * 60;

/** A plane on a managed-PostgreSQL admin with tenant `acme` and one deployment. */
async function planeWithTenant(
  env: Record<string, string> = {},
  options: { logger?: Logger } = {},
): Promise<TestPlane> {
  const plane = await createTestPlane(options, env);
  await addManagedServer(plane, 'pg-main');
  await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
  await plane.tp.tenants.create({ id: 'acme', tier: 'starter' }, TEST_ACTOR);
  return plane;
}

/** The audit rows of `action` for acme, oldest first. */
function auditRows(plane: TestPlane, action: string) {
  return plane.tp
    .knex('audit_log')
    .where({ action, tenant_id: 'acme' })
    .orderBy('id')
    .select('actor', 'request_id', 'details');
}

/** Checks what every impersonation token must be, and answers its claims. */
function checkClaims(token: string, expiresAt: string, operator: string) {
  const claims = decodeJwt(token);
  expect(claims).to.include({ tenant_id: 'acme', tenant_role: 'viewer', sub: 'tenant:acme' });
  expect(claims.act).to.deep.equal({ sub: operator });
  expect(claims.jti).to.be.a('string').and.not.equal('');
  expect(claims.exp! - claims.iat!)
    .to.be.at.most(FIFTEEN_MINUTES)
    .and.above(0);
  expect(new Date(expiresAt).getTime()).to.equal(claims.exp! * 1000);
  return claims;
}

describe('Impersonation with the development issuer', function () {
  // Provisioning a tenant on a busy machine outlasts mocha's default.
  this.timeout(60000);
  let plane: TestPlane;
  let base: string;
  let support: string;
  const logs = logSink();

  before(async () => {
    plane = await planeWithTenant({}, { logger: createLogger('info', logs.stream) });
    base = await plane.listen();
    support = await plane.mint({ scopes: ['tenantplane:support'], subject: 'sam' });
    const created = await callJson(
      base,
      await plane.mint({ tenantId: 'acme' }),
      'POST',
      '/api/v1/deployments',
      {
        project_name: 'web',
        status: 'ready',
      },
    );
    expect(created.status).to.equal(201);
  });
  after(async () => plane.close());

  it('mints a read-only token of at most 15 minutes carrying act.sub, audited with the reason', async () => {
    const minted = await callJson(base, support, 'POST', '/admin/v1/tenants/acme/impersonations', {
      reason: 'ticket 4711: customer sees an empty list',
    });
    expect(minted.status).to.equal(201);
    const claims = checkClaims(minted.body.token, minted.body.expires_at, 'sam');
    expect(claims.iss).to.equal('tenantplane-dev');

    const token = minted.body.token as string;
    const read = await callJson(base, token, 'GET', '/api/v1/deployments', undefined, {
      'x-request-id': 'imp-read-1',
    });
    expect(read.status).to.equal(200);
    expect(read.body.data.map((row: { project_name: string }) => row.project_name)).to.deep.equal(['web']);
    const write = await callJson(base, token, 'POST', '/api/v1/deployments', {
      project_name: 'x',
      status: 'ready',
    });
    expect(write.status).to.equal(403);
    expect(write.body.error.code).to.equal('read_only_role');
    // Not an admin token: impersonating gives no admin access.
    const admin = await callJson(base, token, 'GET', '/admin/v1/tenants');
    expect(admin.body.error.code).to.equal('insufficient_scope');

    const [started] = await auditRows(plane, 'tenant.impersonation');
    expect(started.actor).to.equal('token:sam');
    expect(started.details).to.include({
      reason: 'ticket 4711: customer sees an empty list',
      jti: claims.jti,
      expires_at: minted.body.expires_at,
    });
    const requests = await auditRows(plane, 'tenant.impersonation.request');
    expect(
      requests.map((row) => [row.actor, row.details.method, row.details.path, row.details.jti]),
    ).to.deep.equal([
      ['token:sam', 'GET', '/api/v1/deployments', claims.jti],
      ['token:sam', 'POST', '/api/v1/deployments', claims.jti],
    ]);
    expect(requests[0]!.request_id).to.equal('imp-read-1');
  });

  it('logs each impersonated request with the operator, and serves none it cannot audit', async () => {
    const minted = await callJson(base, support, 'POST', '/admin/v1/tenants/acme/impersonations', {
      reason: 'r',
    });
    const token = minted.body.token as string;
    expect((await callJson(base, token, 'GET', '/api/v1/deployments?limit=5')).status).to.equal(200);
    const logged = logs.lines
      .map((line) => JSON.parse(line))
      .filter(
        (entry) => entry.msg === 'impersonated request' && entry.impersonation.jti === decodeJwt(token).jti,
      );
    expect(logged.map((entry) => entry.impersonation)).to.deep.include.members([
      {
        operator: 'sam',
        tenantId: 'acme',
        method: 'GET',
        path: '/api/v1/deployments?limit=5',
        jti: decodeJwt(token).jti,
        status: 200,
      },
    ]);

    // The catalog refuses the audit row: the request is not served, an ordinary one still is.
    const control = `${plane.prefix}_control`;
    await adminQuery(
      control,
      `CREATE FUNCTION refuse_impersonation_audit() RETURNS trigger LANGUAGE plpgsql AS
         $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$;
       CREATE TRIGGER refuse_impersonation_audit BEFORE INSERT ON audit_log FOR EACH ROW
         WHEN (NEW.action = 'tenant.impersonation.request') EXECUTE FUNCTION refuse_impersonation_audit()`,
    );
    try {
      const unaudited = await callJson(base, token, 'GET', '/api/v1/deployments');
      expect(unaudited.status).to.be.at.least(500);
      expect(unaudited.body).to.not.have.property('data');
      const ordinary = await callJson(
        base,
        await plane.mint({ tenantId: 'acme' }),
        'GET',
        '/api/v1/deployments',
      );
      expect(ordinary.status).to.equal(200);
    } finally {
      await adminQuery(control, 'DROP TRIGGER refuse_impersonation_audit ON audit_log');
    }
  });

  it('refuses a missing, empty or too long reason with 400 invalid_field', async () => {
    for (const body of [{}, { reason: '' }, { reason: '   ' }, { reason: 'x'.repeat(501) }, { reason: 42 }]) {
      const answer = await callJson(base, support, 'POST', '/admin/v1/tenants/acme/impersonations', body);
      expect(answer.status, JSON.stringify(body)).to.equal(400);
      expect(answer.body.error.code).to.equal('invalid_field');
    }
    const unknown = await callJson(base, support, 'POST', '/admin/v1/tenants/ghost/impersonations', {
      reason: 'r',
    });
    expect(unknown.status).to.equal(404);
  });

  it('lets support, operator and admin impersonate, not viewer', async () => {
    for (const [scope, status] of [
      ['tenantplane:viewer', 403],
      ['tenantplane:operator', 201],
      ['tenantplane:admin', 201],
    ] as const) {
      const token = await plane.mint({ scopes: [scope] });
      const answer = await callJson(base, token, 'POST', '/admin/v1/tenants/acme/impersonations', {
        reason: 'r',
      });
      expect(answer.status, scope).to.equal(status);
    }
  });
});

describe('Impersonation beside an external identity provider', function () {
  // Provisioning a tenant and starting a serve process on a busy machine outlast mocha's default.
  this.timeout(60000);
  const idp = fakeIdentityProvider();
  let jwks: { url: string; close(): Promise<void> };
  let plane: TestPlane;
  let base: string;
  let other: ChildService | undefined;
  let env: Record<string, string>;

  before(async () => {
    // Serves the whole block, unlike the provider's per-test servers.
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [idp.rsa.publicJwk, idp.ec.publicJwk] }));
    });
    jwks = { url: `${await listen(server)}/.well-known/jwks.json`, close: closer(server) };
    env = { AUTH_JWKS_URL: jwks.url, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE, RATE_LIMITS: 'off' };
    plane = await planeWithTenant(env);
    base = await plane.listen();
    other = await startTenantctl(['serve'], plane.cliEnv({ ...env, PORT: '0' }), 'tenantplane listening');
  });
  after(async () => {
    other?.child.kill('SIGKILL');
    await other?.exited;
    await plane?.close();
    await jwks?.close();
  });

  it("signs with tenantplane's own key, which applications verify from its JWKS, and both processes accept", async () => {
    const operator = await sign(idp.ec, { tenant_id: undefined, sub: 'alice', scope: 'tenantplane:support' });
    const minted = await callJson(base, operator, 'POST', '/admin/v1/tenants/acme/impersonations', {
      reason: 'incident 12',
    });
    expect(minted.status, JSON.stringify(minted.body)).to.equal(201);
    const token = minted.body.token as string;
    const claims = checkClaims(token, minted.body.expires_at, 'alice');

    // What docs/roles-and-impersonation.md tells an application to do.
    const keys = createRemoteJWKSet(new URL(`${base}/.well-known/tenantplane-impersonation-jwks.json`));
    const { payload } = await jwtVerify(token, keys, {
      issuer: 'tenantplane-impersonation',
      audience: AUDIENCE,
      algorithms: ['ES256'],
    });
    expect(payload.jti).to.equal(claims.jti);

    // The key is in the catalog: the other process, started before the token was minted, trusts it too.
    for (const at of [base, other!.base]) {
      const read = await callJson(at, token, 'GET', '/api/v1/deployments');
      expect(read.status, at).to.equal(200);
      const write = await callJson(
        at,
        token,
        'DELETE',
        '/api/v1/deployments/00000000-0000-0000-0000-000000000000',
      );
      expect(write.status, at).to.equal(403);
      expect(write.body.error.code).to.equal('read_only_role');
    }
    const requests = await auditRows(plane, 'tenant.impersonation.request');
    expect(requests.map((row) => [row.actor, row.details.method])).to.deep.equal([
      ['token:alice', 'GET'],
      ['token:alice', 'DELETE'],
      ['token:alice', 'GET'],
      ['token:alice', 'DELETE'],
    ]);
    const [started] = await auditRows(plane, 'tenant.impersonation');
    expect(started).to.deep.include({ actor: 'token:alice' });
    expect(started.details).to.include({ reason: 'incident 12', issuer: 'tenantplane-impersonation' });
  });

  it("still takes the provider's tokens, and no token of its key under tenantplane's issuer", async () => {
    const tenantToken = await sign(idp.rsa, { tenant_id: 'acme' });
    expect((await callJson(base, tenantToken, 'GET', '/api/v1/deployments')).status).to.equal(200);
    const posing = await sign(idp.ec, { iss: 'tenantplane-impersonation', act: { sub: 'mallory' } });
    const refused = await callJson(base, posing, 'GET', '/api/v1/deployments');
    expect(refused.status).to.equal(401);
    expect(refused.body.error.code).to.equal('invalid_token');
  });
});
