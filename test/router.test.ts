import { expect } from 'chai';
import pg from 'pg';
import { dedicatedDatabaseId } from '../src/catalog/records.js';
import { SQLSTATE, TenantplaneError } from '../src/errors/index.js';
import type { TenantRouter } from '../src/routing/tenant-router.js';
import { expectDeleteDrainsWrite } from './support/deletion-drain.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(TenantplaneError);
    return (error as TenantplaneError).code;
  }
  throw new Error('expected a failure');
}

describe('tenant router', () => {
  let plane: TestPlane;
  let router: TenantRouter;

  before(async () => {
    plane = await createTestPlane({ router: { shardPoolSize: 1 } });
    router = plane.tp.router;
    await plane.addServer();
    await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
    for (const [id, tier] of [
      ['alpha', 'starter'],
      ['bravo', 'pro'],
      ['delta', 'enterprise'],
      ['echo', 'enterprise'],
    ]) {
      await plane.tp.tenants.create({ id: id!, tier: tier! }, TEST_ACTOR);
    }
    for (const tenant of ['alpha', 'bravo', 'delta', 'echo']) {
      const db = await router.forTenant(tenant);
      await db.query(
        'INSERT INTO deployments (tenant_id, project_name, status) VALUES ($1, $2, $3), ($1, $4, $3)',
        [tenant, `${tenant}-web`, 'ready', `${tenant}-api`],
      );
    }
  });
  after(async () => plane.close());

  it('routes shard tenants to their shard and enterprise tenants to their own database', async () => {
    expect((await router.forTenant('alpha')).databaseId).to.equal('shard-one');
    expect((await router.forTenant('bravo')).databaseId).to.equal('shard-one');
    expect((await router.forTenant('delta')).databaseId).to.equal(dedicatedDatabaseId('delta'));
    const rows = await (await router.forTenant('delta')).query('SELECT current_database() AS db');
    expect(rows.rows[0]!.db).to.equal(`${plane.prefix}_t_delta`);
  });

  it('shows a tenant only its own rows even when a query forgets the tenant filter', async () => {
    const alpha = await router.forTenant('alpha');
    const rows = await alpha.query<{ tenant_id: string }>('SELECT tenant_id FROM deployments');
    expect(rows.rows.map((row) => row.tenant_id)).to.deep.equal(['alpha', 'alpha']);
    const viaKnex = await alpha.knex('deployments').select('tenant_id');
    expect(viaKnex.map((row: { tenant_id: string }) => row.tenant_id)).to.deep.equal(['alpha', 'alpha']);
  });

  it('refuses writes of rows for another tenant', async () => {
    const alpha = await router.forTenant('alpha');
    let failure: unknown;
    try {
      await alpha.query(
        "INSERT INTO deployments (tenant_id, project_name, status) VALUES ('bravo', 'x', 'ready')",
      );
    } catch (error) {
      failure = error;
    }
    expect((failure as { code?: string }).code).to.equal(SQLSTATE.insufficientPrivilege); // insufficient_privilege: RLS WITH CHECK
    const updated = await alpha.query("UPDATE deployments SET status = 'hacked' WHERE tenant_id = 'bravo'");
    const deleted = await alpha.query('DELETE FROM deployments WHERE tenant_id = $1', ['bravo']);
    expect([updated.rowCount, deleted.rowCount]).to.deep.equal([0, 0]);
  });

  it('gives the application role no rows on a shard without the tenant set', async () => {
    const credentials = await plane.tp.catalog.serverAppCredentials('pg-main');
    const client = new pg.Client({ ...credentials, database: `${plane.prefix}_s_shard_one` });
    await client.connect();
    try {
      const rows = await client.query('SELECT count(*)::int AS n FROM deployments');
      expect(rows.rows[0]!.n).to.equal(0);
      const disable = await client
        .query('ALTER TABLE deployments DISABLE ROW LEVEL SECURITY')
        .catch((error) => error);
      expect((disable as { code?: string }).code).to.equal(SQLSTATE.insufficientPrivilege);
    } finally {
      await client.end();
    }
  });

  it('leaves nothing of tenant A on a pooled connection that then serves tenant B', async () => {
    // shardPoolSize is 1: alpha and bravo share the one connection.
    const alpha = await router.forTenant('alpha');
    const bravo = await router.forTenant('bravo');
    const seenByAlpha = await alpha.query(
      "SELECT current_setting('tenantplane.tenant_id') AS t, pg_backend_pid() AS pid",
    );
    const seenByBravo = await bravo.query(
      "SELECT current_setting('tenantplane.tenant_id') AS t, pg_backend_pid() AS pid",
    );
    expect(seenByAlpha.rows[0]!.pid).to.equal(seenByBravo.rows[0]!.pid);
    expect([seenByAlpha.rows[0]!.t, seenByBravo.rows[0]!.t]).to.deep.equal(['alpha', 'bravo']);
    const bravoRows = await bravo.query<{ tenant_id: string }>('SELECT DISTINCT tenant_id FROM deployments');
    expect(bravoRows.rows).to.deep.equal([{ tenant_id: 'bravo' }]);

    // The bare connection, outside any tenant transaction, carries no tenant and no open transaction.
    const client = await router.pools.connect({
      databaseId: 'shard-one',
      databaseName: `${plane.prefix}_s_shard_one`,
      serverId: 'pg-main',
      poolSize: 1,
      serverBudget: 32,
    });
    try {
      const state = await client.query(
        "SELECT coalesce(current_setting('tenantplane.tenant_id', true), '') AS t, pg_backend_pid() AS pid, now() = statement_timestamp() AS outside_tx",
      );
      expect(state.rows[0]).to.deep.equal({ t: '', pid: seenByAlpha.rows[0]!.pid, outside_tx: true });
      const count = await client.query('SELECT count(*)::int AS n FROM deployments');
      expect(count.rows[0]!.n).to.equal(0);
    } finally {
      client.release();
    }
  });

  it('keeps the shared shard connection sound after each way a shard statement can fail', async () => {
    // shardPoolSize is 1: every statement below runs on the same connection, or on its replacement.
    const alpha = await router.forTenant('alpha');
    const bravo = await router.forTenant('bravo');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const failures = [
      () => alpha.query('SELECT $1::text AS v', [circular]), // a value pg cannot encode: nothing is sent
      () => alpha.query('SELEC tenant_id FROM deployments'), // a parse error, before the tenant is set
      () => alpha.query('SELECT 1 / (count(*) - count(*)) FROM deployments'), // fails while executing
      () =>
        alpha.query("INSERT INTO deployments (tenant_id, project_name, status) VALUES ('alpha', $1, 'x')", [
          null, // project_name is NOT NULL: fails after the tenant is set
        ]),
    ];
    for (const failure of failures) {
      expect(
        await failure().then(
          () => 'succeeded',
          () => 'failed',
        ),
      ).to.equal('failed');
      const seen = await bravo.query<{ t: string; tenant_id: string }>(
        "SELECT current_setting('tenantplane.tenant_id') AS t, tenant_id FROM deployments",
      );
      expect(seen.rows.map((row) => [row.t, row.tenant_id])).to.deep.equal([
        ['bravo', 'bravo'],
        ['bravo', 'bravo'],
      ]);
    }
    const count = await alpha.query<{ n: number }>('SELECT count(*)::int AS n FROM deployments');
    expect(count.rows[0]!.n).to.equal(2);
  });

  it('runs a transaction as the tenant and rolls it back on error', async () => {
    const bravo = await router.forTenant('bravo');
    const failure = await bravo
      .transaction(async (trx) => {
        await trx.knex('deployments').insert({ tenant_id: 'bravo', project_name: 'temp', status: 'ready' });
        throw new Error('abort');
      })
      .catch((error: Error) => error);
    expect((failure as Error).message).to.equal('abort');
    const rows = await bravo.query('SELECT count(*)::int AS n FROM deployments WHERE project_name = $1', [
      'temp',
    ]);
    expect(rows.rows[0]!.n).to.equal(0);
  });

  it('refuses unknown, suspended and deleted tenants with 403 before any pool is created', async () => {
    await plane.tp.tenants.create({ id: 'foxtrot', tier: 'enterprise' }, TEST_ACTOR);
    await plane.tp.tenants.setStatus('foxtrot', 'suspended', TEST_ACTOR);
    const poolsBefore = router.pools.stats().map((pool) => pool.databaseId);
    plane.tp.directory.invalidate('foxtrot');
    expect(await codeOf(router.forTenant('foxtrot'))).to.equal('tenant_suspended');
    expect(await codeOf(router.forTenant('nobody-here'))).to.equal('tenant_unavailable');
    await plane.tp.tenants.delete({ id: 'foxtrot', confirm: 'foxtrot' }, TEST_ACTOR);
    plane.tp.directory.invalidate('foxtrot');
    expect(await codeOf(router.forTenant('foxtrot'))).to.equal('tenant_unavailable');
    expect(router.pools.stats().map((pool) => pool.databaseId)).to.deep.equal(poolsBefore);
    expect(await codeOf(router.forTenant("x'; drop table tenants; --"))).to.equal('invalid_id');
  });

  it('tells every instance within a second when a tenant is suspended', async () => {
    const other = await plane.openAnother();
    await (await other.router!.forTenant('echo')).query('SELECT 1');
    await plane.tp.tenants.setStatus('echo', 'suspended', TEST_ACTOR);
    const deadline = Date.now() + 1000;
    let code = '';
    while (Date.now() < deadline) {
      code = await other
        .router!.forTenant('echo')
        .then(() => 'still served')
        .catch((error: TenantplaneError) => error.code);
      if (code === 'tenant_suspended') break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(code).to.equal('tenant_suspended');
    await plane.tp.tenants.setStatus('echo', 'active', TEST_ACTOR);
  });

  it('drops every cached route when a tier changes, so its new limits apply at once', async () => {
    const other = await plane.openAnother();
    const before = await other.router!.forTenant('alpha');
    const tier = before.tier;
    const original = before.limits.requestsPerMinute;
    await plane.tp
      .knex('tiers')
      .where({ id: tier })
      .update({ requests_per_minute: original + 7 });
    try {
      const deadline = Date.now() + 1000;
      let seen = original;
      while (Date.now() < deadline && seen !== original + 7) {
        seen = (await other.router!.forTenant('alpha')).limits.requestsPerMinute;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(seen).to.equal(original + 7);
    } finally {
      await plane.tp.knex('tiers').where({ id: tier }).update({ requests_per_minute: original });
    }
  });

  it('drains a write that passed its check before the tenant was deleted, so no row of it survives', () =>
    expectDeleteDrainsWrite(plane, 'gone-soon'));

  it('lets a query finish when its pool is evicted mid-flight', async () => {
    const delta = await router.forTenant('delta');
    const slow = delta.query('SELECT pg_sleep(0.5), count(*)::int AS n FROM deployments');
    await new Promise((resolve) => setTimeout(resolve, 100));
    router.pools.evict(dedicatedDatabaseId('delta'));
    const result = await slow;
    expect(result.rows[0]!.n).to.equal(2);
    // The retired pool ends once that query is done.
    const stillOpen = () =>
      router.pools.stats().some((pool) => pool.databaseId === dedicatedDatabaseId('delta'));
    for (let i = 0; i < 100 && stillOpen(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(stillOpen()).to.equal(false);
  });

  it('answers 503 when the catalog cannot be read', async () => {
    const other = await plane.openAnother();
    await other.knex.destroy();
    const failure = await other.router!.forTenant('alpha').catch((error: TenantplaneError) => error);
    expect(failure).to.be.instanceOf(TenantplaneError);
    expect([(failure as TenantplaneError).status, (failure as TenantplaneError).code]).to.deep.equal([
      503,
      'catalog_unavailable',
    ]);
  });

  it('answers 503 quickly when a tenant’s server is down', async () => {
    await plane.tp.knex('servers').where({ id: 'pg-main' }).update({ port: 1 });
    const other = await plane.openAnother({ router: { acquireTimeoutMs: 1000 } });
    try {
      const delta = await other.router!.forTenant('delta');
      const failure = await delta.query('SELECT 1').catch((error: TenantplaneError) => error);
      expect(failure).to.be.instanceOf(TenantplaneError);
      expect([(failure as TenantplaneError).status, (failure as TenantplaneError).code]).to.deep.equal([
        503,
        'database_unavailable',
      ]);
      // Further requests fail fast without another connection attempt.
      expect(await codeOf(delta.query('SELECT 1'))).to.equal('database_unavailable');
    } finally {
      await plane.tp.knex('servers').where({ id: 'pg-main' }).update({ port: 5432 });
    }
  });
});

describe('tenant router under a connection budget', () => {
  let plane: TestPlane;
  const tenants = ['ten-1', 'ten-2', 'ten-3', 'ten-4', 'ten-5', 'ten-6'];

  before(async () => {
    plane = await createTestPlane({ router: { acquireTimeoutMs: 5000 } });
    // 4 connections, of which the routers may use 80%: 3, for six enterprise databases.
    await plane.addServer('pg-small', 4);
    for (const id of tenants) await plane.tp.tenants.create({ id, tier: 'enterprise' }, TEST_ACTOR);
  });
  after(async () => plane.close());

  /** Connections the server has for this plane's dedicated databases, by database. */
  async function serverConnections(): Promise<Map<string, number>> {
    const open = await adminQuery<{ datname: string; n: number }>(
      'postgres',
      'SELECT datname, count(*)::int AS n FROM pg_stat_activity WHERE datname LIKE $1 GROUP BY datname',
      [`${plane.prefix}\\_t\\_%`],
    );
    return new Map(open.rows.map((row) => [row.datname, row.n]));
  }

  it('serves more active databases than the budget has connections for, never exceeding it', async () => {
    const router = plane.tp.router;
    let maxHeld = 0;
    let maxOnServer = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxHeld = Math.max(maxHeld, router.pools.openOn('pg-small'));
        const onServer = [...(await serverConnections()).values()].reduce((sum, n) => sum + n, 0);
        maxOnServer = Math.max(maxOnServer, onServer);
      }
    })();
    const heldSampler = setInterval(() => {
      maxHeld = Math.max(maxHeld, router.pools.openOn('pg-small'));
    }, 1);
    try {
      const results = await Promise.all(
        Array.from({ length: 120 }, async (_, index) => {
          const tenant = tenants[index % tenants.length]!;
          const db = await router.forTenant(tenant);
          const result = await db.query<{ t: string }>(
            "SELECT current_setting('tenantplane.tenant_id') AS t, pg_sleep(0.01)",
          );
          return result.rows[0]!.t === tenant;
        }),
      );
      expect(results.every(Boolean)).to.equal(true);
    } finally {
      sampling = false;
      clearInterval(heldSampler);
      await sampler;
    }
    expect(maxHeld).to.equal(3);
    expect(maxOnServer).to.be.within(1, 3);
  });

  it('closes only the least recently used idle connection to make room', async () => {
    const router = plane.tp.router;
    // Three databases with one idle connection each fill the budget; ten-1 is the least recently used.
    for (const tenant of ['ten-1', 'ten-2', 'ten-3'])
      await (await router.forTenant(tenant)).query('SELECT 1');
    const databaseOf = (tenant: string) => `${plane.prefix}_t_${tenant.replace('-', '_')}`;
    const before = await serverConnections();
    expect(['ten-1', 'ten-2', 'ten-3'].map((tenant) => before.get(databaseOf(tenant)))).to.deep.equal([
      1, 1, 1,
    ]);
    await (await router.forTenant('ten-4')).query('SELECT 1');
    const after = await serverConnections();
    expect(
      ['ten-1', 'ten-2', 'ten-3', 'ten-4'].map((tenant) => after.get(databaseOf(tenant)) ?? 0),
    ).to.deep.equal([0, 1, 1, 1]);
    expect(router.pools.openOn('pg-small')).to.equal(3);
  });

  it('serves a cold database while busy ones keep every connection in use', async () => {
    const router = plane.tp.router;
    const until = Date.now() + 1500;
    // Two loops per tenant on three tenants: more demand than the three connections, all the time.
    const hot = ['ten-1', 'ten-2', 'ten-3', 'ten-1', 'ten-2', 'ten-3'].map(async (tenant) => {
      const db = await router.forTenant(tenant);
      while (Date.now() < until) await db.query('SELECT pg_sleep(0.02)');
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const cold = await router.forTenant('ten-5');
    const answer = await cold.query<{ t: string }>("SELECT current_setting('tenantplane.tenant_id') AS t");
    expect(answer.rows[0]!.t).to.equal('ten-5');
    expect(Date.now()).to.be.below(until);
    await Promise.all(hot);
  });

  it('answers 503 pool_exhausted within the acquire timeout when every connection stays busy', async () => {
    const quick = await plane.openAnother({ router: { acquireTimeoutMs: 300 } });
    const router = quick.router!;
    // More sleepers than this instance may hold connections (at most the whole budget of 3).
    const sleepers = tenants
      .slice(0, 3)
      .map(async (tenant) =>
        (await router.forTenant(tenant)).query('SELECT pg_sleep(1)').catch(() => undefined),
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    const waiting = await router.forTenant('ten-6');
    expect(await codeOf(waiting.query('SELECT 1'))).to.equal('pool_exhausted');
    // The refusal comes when the acquire timeout runs out, not after the sleepers are done.
    expect(performance.now() - started).to.be.below(900);
    await Promise.all(sleepers);
  });
});
