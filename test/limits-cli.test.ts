import { expect } from 'chai';
import { runTenantctl } from './support/tenantctl.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

describe('tenantctl tenant limits and usage', function () {
  this.timeout(120000);
  let plane: TestPlane;

  const tenantctl = (...args: string[]) => runTenantctl(plane.cliEnv(), ...args);

  before(async () => {
    plane = await createTestPlane({ serveTraffic: true });
    await plane.addServer();
    await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'acme', tier: 'starter' }, TEST_ACTOR);
    const db = await plane.tp.router.forTenant('acme');
    for (const name of ['web', 'api']) {
      await db.query('INSERT INTO deployments (tenant_id, project_name, status) VALUES ($1, $2, $3)', [
        'acme',
        name,
        'ready',
      ]);
    }
  });
  after(async () => plane.close());

  it('sets and clears a request-rate override, audited, and shows limits and usage', async () => {
    const set = await tenantctl('tenants', 'set-limit', 'acme', '--requests-per-minute', '42', '--json');
    expect(set.code, set.stderr).to.equal(0);
    expect(JSON.parse(set.stdout).limits.requests_per_minute).to.equal(42);

    const shown = await tenantctl('tenants', 'show', 'acme', '--json');
    expect(shown.code, shown.stderr).to.equal(0);
    const view = JSON.parse(shown.stdout);
    expect(view.limits).to.deep.equal({
      requests_per_minute: 42,
      users: 10,
      deployments: 100,
      workflows: 20,
      storage_bytes: 104857600,
    });
    expect(view.usage).to.include({ users: 0, deployments: 2, workflows: 0 });
    expect(view.usage.storage_bytes).to.be.above(0);
    const text = await tenantctl('tenants', 'show', 'acme');
    expect(text.stdout).to.match(/deploys: +2 of 100/);

    const cleared = await tenantctl('tenants', 'set-limit', 'acme', '--tier-default', '--json');
    expect(JSON.parse(cleared.stdout).limits.requests_per_minute).to.equal(600);

    const audit = await plane.tp.catalog.listAudit({ tenantId: 'acme', limit: 10 });
    const changes = audit.filter((entry) => entry.action === 'tenant.set_limits');
    expect(changes.map((entry) => entry.details)).to.deep.equal([
      { requests_per_minute: { from: 42, to: null } },
      { requests_per_minute: { from: null, to: 42 } },
    ]);
    expect(changes.every((entry) => entry.actor.startsWith('cli:'))).to.be.true;
  });

  it('exits 2 for a missing or bad rate and 1 for an unknown tenant', async () => {
    expect((await tenantctl('tenants', 'set-limit', 'acme', '--json')).code).to.equal(2);
    expect((await tenantctl('tenants', 'set-limit', 'acme', '--requests-per-minute', 'lots')).code).to.equal(
      2,
    );
    expect((await tenantctl('tenants', 'set-limit', 'acme', '--requests-per-minute', '0')).code).to.equal(2);
    expect((await tenantctl('tenants', 'set-limit', 'nobody', '--requests-per-minute', '5')).code).to.equal(
      1,
    );
    expect((await plane.tp.catalog.requireTenant('acme')).requestsPerMinute).to.equal(null);
  });
});
