import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { parseFeatureSettings } from '../src/catalog/feature-flags.js';
import { exitCodeFor } from '../src/cli/command-runner.js';
import { InvalidFieldError } from '../src/errors/index.js';
import { type ChildService, request, startTenantctl } from './support/child-service.js';
import { addManagedServer } from './support/managed-admin.js';
import { runTenantctl } from './support/tenantctl.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

/** How long a catalog change may take to reach another service process (the change channel's bound). */
const CHANGE_BOUND_MS = 2000;

interface OwnTenant {
  id: string;
  name: string;
  tier: string;
  status: string;
  features: Record<string, boolean>;
  limits: Record<string, number | null>;
  usage: Record<string, number>;
}

describe('tenant feature flags and the tenant’s own view', function () {
  this.timeout(60000);
  let plane: TestPlane;
  let base: string;
  /** A second service process on the same catalog. */
  let other: ChildService;
  const tokens: Record<string, string> = {};
  const tenantctl = (...args: string[]) => runTenantctl(plane.cliEnv(), ...args);

  /** A request to `origin` with `who`'s token; the answer's status and parsed body. */
  async function call(origin: string, who: string, method: string, path: string, body?: unknown) {
    const answer = await request(origin, method, path, tokens[who], body);
    // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field by the assertions
    return { status: answer.status, body: (answer.body ? JSON.parse(answer.body) : undefined) as any };
  }

  async function ownView(origin: string, tenant: string): Promise<OwnTenant> {
    const answer = await call(origin, tenant, 'GET', '/api/v1/tenant');
    expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
    return answer.body as OwnTenant;
  }

  /** Polls the other process's view of `tenant` until its flags are `features`; false after the bound. */
  async function otherSees(tenant: string, features: Record<string, boolean>): Promise<boolean> {
    const started = performance.now();
    while (performance.now() - started < CHANGE_BOUND_MS) {
      const view = await ownView(other.base, tenant);
      if (JSON.stringify(view.features) === JSON.stringify(features)) return true;
      await sleep(20);
    }
    return false;
  }

  const audit = (action: string) =>
    plane.tp.knex('audit_log').where({ action }).orderBy('id').select('actor', 'tenant_id', 'details');

  before(async () => {
    plane = await createTestPlane();
    // Managed PostgreSQL's admin role: no superuser, row-level security binds it.
    await addManagedServer(plane, 'pg-main');
    await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'shop', name: 'Shop Ltd', tier: 'starter' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'corp', name: 'Corp Inc', tier: 'enterprise' }, TEST_ACTOR);
    base = await plane.listen();
    for (const tenant of ['shop', 'corp']) tokens[tenant] = await plane.mint({ tenantId: tenant });
    tokens.admin = await plane.mint({ admin: true });
    other = await startTenantctl(
      ['serve'],
      plane.cliEnv({ PORT: '0', RATE_LIMITS: 'off' }),
      'tenantplane listening',
    );
  });

  after(async () => {
    other?.child.kill('SIGKILL');
    await other?.exited;
    await plane?.close();
  });

  it('shows a shard tenant its tier’s default flags, limits and quota usage at GET /api/v1/tenant', async () => {
    const set = await tenantctl(
      'tiers',
      'features',
      'starter',
      '--set',
      'beta-ui=on',
      '--set',
      'sso=off',
      '--json',
    );
    expect(set.code, set.stderr).to.equal(0);
    expect(JSON.parse(set.stdout).features).to.deep.equal({ 'beta-ui': true, sso: false });

    const listed = await tenantctl('tiers', 'list');
    expect(listed.stdout).to.match(/\nstarter .* beta-ui=on sso=off\n/);
    expect(listed.stdout).to.match(/\npro .* \(none\)\n/);
    // The admin API lists the same.
    const tiers = (await call(base, 'admin', 'GET', '/admin/v1/tiers')).body.data as Array<{
      id: string;
      features: Record<string, boolean>;
    }>;
    expect(tiers.map((tier) => [tier.id, tier.features])).to.deep.equal([
      ['starter', { 'beta-ui': true, sso: false }],
      ['pro', {}],
      ['enterprise', {}],
    ]);

    const created = await call(base, 'shop', 'POST', '/api/v1/deployments', {
      project_name: 'web',
      status: 'ready',
    });
    expect(created.status).to.equal(201);
    const view = await ownView(base, 'shop');
    expect(view).to.deep.include({
      id: 'shop',
      name: 'Shop Ltd',
      tier: 'starter',
      status: 'active',
      features: { 'beta-ui': true, sso: false },
    });
    expect(view.limits).to.include({ requests_per_minute: 600, deployments: 100, users: 10, workflows: 20 });
    expect(view.usage).to.include({ deployments: 1, users: 0, workflows: 0 });
    expect(view.usage.storage_bytes).to.be.above(0);
    // The same flags on the tenant's handle, as an application embedding the router reads them.
    const db = await plane.tp.router.forTenant('shop');
    expect(db.features).to.deep.equal({ 'beta-ui': true, sso: false });
    expect(Object.isFrozen(db.features)).to.equal(true);
  });

  it('shows a dedicated tenant the defaults its tier gets through the admin API', async () => {
    expect((await ownView(base, 'corp')).features).to.deep.equal({});
    const patched = await call(base, 'admin', 'PATCH', '/admin/v1/tiers/enterprise', {
      features: { sso: true, 'audit-export': true },
    });
    expect(patched.status, JSON.stringify(patched.body)).to.equal(200);
    expect(patched.body.features).to.deep.equal({ 'audit-export': true, sso: true });
    const read = await call(base, 'admin', 'GET', '/admin/v1/tiers/enterprise');
    expect(read.body.features).to.deep.equal({ 'audit-export': true, sso: true });

    const view = await ownView(base, 'corp');
    expect(view).to.deep.include({ id: 'corp', name: 'Corp Inc', tier: 'enterprise', status: 'active' });
    expect(view.features).to.deep.equal({ 'audit-export': true, sso: true });
    // Enterprise quotas are measured but unlimited.
    expect(view.limits).to.include({ deployments: null, storage_bytes: null });
    expect(view.usage).to.include({ deployments: 0 });
    // null removes a default.
    await call(base, 'admin', 'PATCH', '/admin/v1/tiers/enterprise', { features: { 'audit-export': null } });
    expect((await ownView(base, 'corp')).features).to.deep.equal({ sso: true });
  });

  it('lets a tenant override its tier’s default, and null (or --unset) removes the override', async () => {
    const overridden = await call(base, 'admin', 'PATCH', '/admin/v1/tenants/shop', {
      features: { 'beta-ui': false, reports: true },
    });
    expect(overridden.status, JSON.stringify(overridden.body)).to.equal(200);
    expect(overridden.body.feature_overrides).to.deep.equal({ 'beta-ui': false, reports: true });
    expect(overridden.body.features).to.deep.equal({ 'beta-ui': false, reports: true, sso: false });
    expect((await ownView(base, 'shop')).features).to.deep.equal({
      'beta-ui': false,
      reports: true,
      sso: false,
    });

    const cli = await tenantctl(
      'tenants',
      'features',
      'shop',
      '--unset',
      'beta-ui',
      '--set',
      'sso=on',
      '--json',
    );
    expect(cli.code, cli.stderr).to.equal(0);
    expect(JSON.parse(cli.stdout)).to.deep.equal({
      id: 'shop',
      tier: 'starter',
      features: { 'beta-ui': true, reports: true, sso: true },
      feature_overrides: { reports: true, sso: true },
    });

    const cleared = await call(base, 'admin', 'PATCH', '/admin/v1/tenants/shop', {
      features: { reports: null, sso: null },
    });
    expect(cleared.body.feature_overrides).to.deep.equal({});
    expect((await ownView(base, 'shop')).features).to.deep.equal({ 'beta-ui': true, sso: false });
    // The admin view of the tenant says the same.
    const shown = await call(base, 'admin', 'GET', '/admin/v1/tenants/shop');
    expect(shown.body).to.deep.include({ features: { 'beta-ui': true, sso: false }, feature_overrides: {} });
  });

  it('reaches a second service process within 2 s: a tier default and a tenant override', async () => {
    // The other process has the tenant's route cached.
    expect((await ownView(other.base, 'shop')).features).to.deep.equal({ 'beta-ui': true, sso: false });

    await call(base, 'admin', 'PATCH', '/admin/v1/tiers/starter', { features: { sso: true } });
    expect(await otherSees('shop', { 'beta-ui': true, sso: true }), 'tier default seen by the other process')
      .to.be.true;

    await call(base, 'admin', 'PATCH', '/admin/v1/tenants/shop', { features: { 'beta-ui': false } });
    expect(await otherSees('shop', { 'beta-ui': false, sso: true }), 'override seen by the other process').to
      .be.true;

    // The dedicated tenant on the other process, too.
    await ownView(other.base, 'corp');
    await call(base, 'admin', 'PATCH', '/admin/v1/tenants/corp', { features: { sso: false } });
    expect(await otherSees('corp', { sso: false }), 'dedicated override seen by the other process').to.be
      .true;
  });

  it('refuses bad flag names and values with 400 invalid_field and exit 2, changing nothing', async () => {
    const before = await plane.tp.catalog.requireTenant('shop');
    for (const features of [
      { 'Beta UI': true },
      { ab: true },
      { 'beta-': true },
      { sso: 'yes' },
      { sso: 1 },
      ['sso'],
      null,
    ]) {
      const answer = await call(base, 'admin', 'PATCH', '/admin/v1/tenants/shop', { features });
      expect(answer.status, JSON.stringify(features)).to.equal(400);
      expect(answer.body.error.code, JSON.stringify(features)).to.equal('invalid_field');
    }
    const tier = await call(base, 'admin', 'PATCH', '/admin/v1/tiers/starter', { features: { 'x!': true } });
    expect([tier.status, tier.body.error.code]).to.deep.equal([400, 'invalid_field']);
    const empty = await call(base, 'admin', 'PATCH', '/admin/v1/tiers/starter', {});
    expect([empty.status, empty.body.error.code]).to.deep.equal([400, 'missing_field']);
    const unknown = await call(base, 'admin', 'PATCH', '/admin/v1/tiers/gold', { features: { sso: true } });
    expect([unknown.status, unknown.body.error.code]).to.deep.equal([404, 'unknown_tier']);

    for (const [set, unset] of [
      [['Beta=on'], []],
      [['sso=maybe'], []],
      [['sso'], []],
      [['sso=on'], ['sso']],
      [[], ['x']],
    ]) {
      expect(() => parseFeatureSettings(set!, unset!), `${set} ${unset}`).to.throw(InvalidFieldError);
    }
    // tenantctl exits 2 on bad input: what the commands' parsing throws.
    const refusal = await Promise.resolve()
      .then(() => parseFeatureSettings(['Beta=on'], []))
      .catch((error: unknown) => error);
    expect(exitCodeFor(refusal)).to.equal(2);

    const after = await plane.tp.catalog.requireTenant('shop');
    expect(after.featureOverrides).to.deep.equal(before.featureOverrides);
    // The catalog itself refuses flags that are not slug names to booleans.
    const refused = await plane.tp
      .knex('tiers')
      .where({ id: 'pro' })
      .update({ features: JSON.stringify({ sso: 'on' }) })
      .catch((error: Error) => error);
    expect(refused).to.be.instanceOf(Error);
  });

  it('audits every change with what it was and what it became, and none that changes nothing', async () => {
    const tierChanges = await audit('tier.set_features');
    expect(tierChanges.map((entry) => [entry.actor.split(':')[0], entry.details.tier])).to.deep.equal([
      ['cli', 'starter'],
      ['token', 'enterprise'],
      ['token', 'enterprise'],
      ['token', 'starter'],
    ]);
    expect(tierChanges[0]!.details).to.deep.include({ from: {}, to: { 'beta-ui': true, sso: false } });
    expect(tierChanges.every((entry) => entry.tenant_id === null)).to.equal(true);

    const tenantChanges = await audit('tenant.set_features');
    expect(tenantChanges.map((entry) => entry.tenant_id)).to.deep.equal([
      'shop',
      'shop',
      'shop',
      'shop',
      'corp',
    ]);
    expect(tenantChanges[0]!.details).to.deep.equal({ from: {}, to: { 'beta-ui': false, reports: true } });
    expect(tenantChanges[2]!.details).to.deep.equal({ from: { reports: true, sso: true }, to: {} });

    // Setting what already is writes no audit row.
    const again = await call(base, 'admin', 'PATCH', '/admin/v1/tenants/corp', { features: { sso: false } });
    expect(again.status).to.equal(200);
    expect(await audit('tenant.set_features')).to.have.length(tenantChanges.length);
  });
});
