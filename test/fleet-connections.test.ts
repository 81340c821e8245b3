import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import type { ServingTenantplane } from '../src/tenantplane.js';
import {
  ensureConsoleBuilt,
  launchBrowser,
  screenshot,
  seriousAccessibilityViolations,
} from './support/browser.js';
import { callJson } from './support/http-client.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

/**
 * GET /admin/v1/fleet/servers and the console's Fleet page: what each live instance's routers hold per
 * server, and the totals. Two serving instances of one catalog hold connections (one in use, two idle)
 * while the tests run; a third, dead one left its row behind.
 */
describe('fleet connections in use per instance', function () {
  this.timeout(60000);
  let plane: TestPlane;
  let second: ServingTenantplane;
  let base: string;
  let release: () => void = () => {};
  let held: Promise<unknown> = Promise.resolve();

  before(async () => {
    ensureConsoleBuilt();
    plane = await createTestPlane();
    await plane.addServer('pg-main', 40);
    await plane.tp.shards.add({ id: 'shard-a', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'acme', tier: 'starter' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'big-co', tier: 'enterprise' }, TEST_ACTOR);
    second = await plane.openAnother({ serveTraffic: true });
    base = await plane.listen();

    // The first instance keeps a transaction open on the dedicated database: one connection in use.
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    await new Promise<void>((started) => {
      held = plane.tp.router.forTenant('big-co').then((db) =>
        db.transaction(async (trx) => {
          await trx.query('SELECT 1');
          started();
          await gate;
        }),
      );
    });
    // The second instance ran a statement on the shard and one on the dedicated database: both idle now.
    await (await second.router.forTenant('acme')).query('SELECT 1');
    await (await second.router.forTenant('big-co')).query('SELECT 1');
    await plane.tp.registry.renew();
    await second.registry.renew();
    // A process that died holding connections: its lease lapsed an hour ago and its row is still there.
    await plane.tp.catalog.knex('instances').insert({
      id: randomUUID(),
      kind: 'serve',
      host: 'gone-host',
      pid: 1,
      lease_ms: 2000,
      router_share_ppm: 0,
      heartbeat_at: plane.tp.catalog.knex.raw("now() - interval '1 hour'"),
      connections: JSON.stringify({ 'pg-main': { in_use: 7, idle: 3 } }),
    });
  });
  after(async () => {
    release();
    await held;
    await plane.close();
  });

  it("sums the live instances' router connections in use and idle, leaving a lapsed instance's out", async () => {
    const viewer = await plane.mint({ scopes: ['tenantplane:viewer'] });
    const answer = await callJson(base, viewer, 'GET', '/admin/v1/fleet/servers');
    expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
    const [server] = answer.body.data;
    const byId = new Map(
      server.instances.map((instance: { instance_id: string }) => [instance.instance_id, instance]),
    );
    expect(server.instances).to.have.length(2);
    expect(byId.get(plane.tp.registry.id)).to.include({ kind: 'serve', in_use: 1, idle: 0 });
    expect(byId.get(second.registry.id)).to.include({ kind: 'serve', in_use: 0, idle: 2 });
    expect(server).to.include({ max_connections: 40, connections_in_use: 1, connections_idle: 2 });
  });

  it('shows them on the Fleet page, per instance and in total', async () => {
    const browser = await launchBrowser();
    try {
      const { page, cspViolations } = await browser.newPage();
      await page.goto(`${base}/console/`);
      await page.getByLabel('Admin token').fill(await plane.mint({ scopes: ['tenantplane:viewer'] }));
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Fleet' }).click();
      const row = page
        .getByRole('table', { name: 'Servers' })
        .getByRole('row')
        .filter({ has: page.getByRole('cell', { name: 'pg-main', exact: true }) });
      await row.waitFor();
      const cells = await row.locator('td').allInnerTexts();
      expect(cells[2]).to.match(/^1 in use, 2 idle of 40 max; 32 for routers \(\d+ assigned\)$/);
      const instances = (await row.locator('li').allInnerTexts()).sort();
      expect(instances).to.have.length(2);
      expect(instances[0]).to.match(/^serve on .+: 0 in use, 2 idle, may hold \d+$/);
      expect(instances[1]).to.match(/^serve on .+: 1 in use, 0 idle, may hold \d+$/);
      expect(cspViolations).to.deep.equal([]);
      expect(await seriousAccessibilityViolations(page)).to.deep.equal([]);
      await screenshot(page, 'fleet-connections');
    } finally {
      await browser.close();
    }
  });
});
