import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { Catalog } from '../src/catalog/catalog.js';
import { connectControlDatabase } from '../src/catalog/control-database.js';
import { SecretBox } from '../src/catalog/secret-box.js';
import {
  CHANGES_APPLICATION_NAME,
  type ChangeChannelState,
  TenantDirectory,
} from '../src/catalog/tenant-directory.js';
import type { TenantplaneError } from '../src/errors/index.js';
import type { ServingTenantplane } from '../src/tenantplane.js';
import { type PgProxy, startPgProxy } from './support/pg-proxy.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

/** Milliseconds until `condition` holds (polled every 20 ms), or Infinity after `limitMs`. */
async function msUntil(condition: () => boolean | Promise<boolean>, limitMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    if (await condition()) return Math.round(performance.now() - started);
    await sleep(20);
  }
  return Number.POSITIVE_INFINITY;
}

/** 'served', or the code the router refused the tenant with. */
function answer(tp: ServingTenantplane, tenantId: string): Promise<string> {
  return tp.router.forTenant(tenantId).then(
    () => 'served',
    (error: TenantplaneError) => error.code,
  );
}

async function readiness(
  base: string,
): Promise<{ status: number; body: { status: string; checks: Record<string, string> } }> {
  const response = await fetch(`${base}/ready`);
  return { status: response.status, body: (await response.json()) as never };
}

describe('catalog change channel', function () {
  this.timeout(60000);
  let plane: TestPlane;
  let proxy: PgProxy;
  /** A second instance whose control database connections go through the proxy. */
  let other: ServingTenantplane;
  let otherServer: Server;
  let otherBase: string;
  const controlDb = () => `${plane.prefix}_control`;

  before(async () => {
    plane = await createTestPlane();
    await plane.addServer();
    await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
    for (const id of ['echo', 'golf', 'hotel'])
      await plane.tp.tenants.create({ id, tier: 'pro' }, TEST_ACTOR);
    proxy = await startPgProxy();
    other = await plane.openAnother({ controlDatabaseUrl: proxy.url(controlDb()) });
    otherServer = await other.listen(0, '127.0.0.1');
    otherBase = `http://127.0.0.1:${(otherServer.address() as { port: number }).port}`;
  });
  after(async () => {
    proxy?.release();
    otherServer?.closeAllConnections();
    await new Promise((resolve) => (otherServer ? otherServer.close(resolve) : resolve(undefined)));
    await plane.close();
    await proxy?.close();
  });

  it('turns degraded when the LISTEN socket goes silent, refuses a suspension made meanwhile within 2 s, and is live again once the path is back', async () => {
    expect(await answer(other, 'echo')).to.equal('served');
    proxy.hold((connection) => connection.listens);
    await plane.tp.tenants.setStatus('echo', 'suspended', TEST_ACTOR);
    const [refusedMs, degradedMs] = await Promise.all([
      msUntil(async () => (await answer(other, 'echo')) === 'tenant_suspended', 5000),
      msUntil(() => other.directory.changeChannel === 'degraded', 5000),
    ]);
    expect(refusedMs, 'ms until the silent instance refused the suspended tenant').to.be.below(2000);
    expect(degradedMs, 'ms until the channel counted as degraded').to.be.below(1700);
    const degraded = await readiness(otherBase);
    expect(degraded.status).to.equal(200);
    expect(degraded.body.status).to.equal('degraded');
    expect(degraded.body.checks.catalog_changes).to.equal('degraded');
    // Only the LISTEN connection went silent: the other instance still reads the catalog.
    expect(proxy.connections().filter((connection) => connection.held).length).to.be.greaterThan(0);

    proxy.release();
    const liveMs = await msUntil(() => other.directory.changeChannel === 'live', 5000);
    expect(liveMs, 'ms until live again').to.be.below(3000);
    const live = await readiness(otherBase);
    expect(live.body).to.deep.include({ status: 'ready' });
    expect(live.body.checks.catalog_changes).to.equal('ok');
    // Notifications flow again: a change reaches the instance long before the degraded cache would expire.
    expect(await answer(other, 'echo')).to.equal('tenant_suspended');
    await plane.tp.tenants.setStatus('echo', 'active', TEST_ACTOR);
    expect(await msUntil(async () => (await answer(other, 'echo')) === 'served', 3000)).to.be.below(500);
  });

  it('turns degraded when its listener backend is terminated, refuses a suspension made meanwhile, and reconnects', async () => {
    expect(await answer(other, 'golf')).to.equal('served');
    const states: ChangeChannelState[] = [];
    const record = (state: ChangeChannelState) => states.push(state);
    other.directory.on('channel', record);
    const listeners = () =>
      adminQuery<{ pid: number }>(
        'postgres',
        'SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 ORDER BY pid',
        [controlDb(), CHANGES_APPLICATION_NAME],
      ).then((result) => result.rows.map((row) => row.pid));
    const before = await listeners();
    expect(before, 'one LISTEN connection per instance').to.have.length(2);
    const terminated = await adminQuery(
      'postgres',
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2',
      [controlDb(), CHANGES_APPLICATION_NAME],
    );
    expect(terminated.rowCount).to.equal(2);
    await plane.tp.tenants.setStatus('golf', 'suspended', TEST_ACTOR);
    const refusedMs = await msUntil(async () => (await answer(other, 'golf')) === 'tenant_suspended', 5000);
    expect(refusedMs).to.be.below(2000);
    const liveMs = await msUntil(() => other.directory.changeChannel === 'live', 5000);
    other.directory.off('channel', record);
    expect(liveMs).to.be.below(2000);
    expect(states.slice(0, 2)).to.deep.equal(['degraded', 'live']);
    const after = await listeners();
    expect(after).to.have.length(2);
    expect(
      after.filter((pid) => before.includes(pid)),
      'new backends',
    ).to.deep.equal([]);
    expect((await readiness(otherBase)).body.checks.catalog_changes).to.equal('ok');
    await plane.tp.tenants.setStatus('golf', 'active', TEST_ACTOR);
    expect(await msUntil(async () => (await answer(other, 'golf')) === 'served', 3000)).to.be.below(500);
  });

  it('serves the routes it has while the catalog is unreachable only as long as its lease holds, then 503 within seconds', async () => {
    // A directory of its own, with a lease the test controls, whose every catalog connection goes
    // through the proxy under an application_name the test can silence.
    const url = `${proxy.url(controlDb())}?application_name=cut-off-catalog`;
    const knex: Knex = connectControlDatabase(url);
    let leaseUntil = Number.POSITIVE_INFINITY;
    const directory = new TenantDirectory({
      catalog: new Catalog(knex, await SecretBox.fromKeyFile(plane.dataDir)),
      controlDatabaseUrl: url,
      logger: plane.tp.logger,
      lease: { id: randomUUID(), validUntil: () => leaseUntil },
    });
    try {
      await directory.start();
      expect((await directory.lookup('hotel'))?.status).to.equal('active');

      proxy.hold((connection) => connection.applicationName === 'cut-off-catalog' || connection.listens);
      // Until the directory knows its channel is silent, its fresh entries are served as they are.
      await msUntil(() => directory.changeChannel === 'degraded', 3000);
      let started = performance.now();
      expect((await directory.lookup('hotel'))?.status, 'the kept route').to.equal('active');
      expect(
        performance.now() - started,
        'ms for the first lookup that found the catalog silent',
      ).to.be.below(2500);
      started = performance.now();
      expect((await directory.lookup('hotel'))?.status).to.equal('active');
      expect(performance.now() - started, 'ms for the next one').to.be.below(50);

      leaseUntil = performance.now();
      started = performance.now();
      const failure = await directory.lookup('hotel').then(
        () => undefined,
        (error: TenantplaneError) => error,
      );
      expect([failure?.status, failure?.code]).to.deep.equal([503, 'catalog_unavailable']);
      expect(performance.now() - started, 'ms until the 503').to.be.below(2500);

      proxy.release();
      leaseUntil = Number.POSITIVE_INFINITY;
      expect(await msUntil(() => directory.changeChannel === 'live', 5000)).to.be.below(3000);
      expect((await directory.lookup('hotel'))?.status).to.equal('active');
    } finally {
      proxy.release();
      await directory.close();
      await knex.destroy();
    }
  });

  it('publishes a catalog confirmation past every change it has taken in, live and degraded', async () => {
    const confirmed = async () =>
      (
        await adminQuery<{ past: boolean }>(
          controlDb(),
          `SELECT pg_visible_in_snapshot($2::xid8, catalog_snapshot) AND catalog_xmin > $2::xid8 AS past
             FROM instances WHERE id = $1`,
          [other.registry.id, xid],
        )
      ).rows[0]?.past === true;
    let xid = (await adminQuery<{ xid: string }>(controlDb(), 'SELECT pg_current_xact_id()::text AS xid'))
      .rows[0]!.xid;
    const liveMs = await msUntil(confirmed, 5000);
    expect(liveMs, 'ms until the live instance confirmed').to.be.below(1500);

    proxy.hold((connection) => connection.listens);
    try {
      await msUntil(() => other.directory.changeChannel === 'degraded', 3000);
      xid = (await adminQuery<{ xid: string }>(controlDb(), 'SELECT pg_current_xact_id()::text AS xid'))
        .rows[0]!.xid;
      const degradedMs = await msUntil(confirmed, 5000);
      expect(degradedMs, 'ms until the degraded instance confirmed').to.be.below(3000);
    } finally {
      proxy.release();
    }
    await msUntil(() => other.directory.changeChannel === 'live', 5000);
  });
});
