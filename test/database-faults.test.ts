import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { appRoleName, dedicatedDatabaseName, shardDatabaseName } from '../src/ids.js';
import { type ChildService, startTenantctl } from './support/child-service.js';
import { logTail, type Outcome, RequestLoad, send, summary } from './support/request-load.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

/** The service's wait for a tenant connection before it answers 503 (set explicitly in its environment). */
const ACQUIRE_TIMEOUT_MS = 1000;
/** No request may take longer than the acquire timeout plus this: a request that hangs is the bug. */
const LATENCY_MARGIN_MS = 1500;
/** Once PostgreSQL is back (or the killed sessions are gone), every request started this much later succeeds. */
const RECOVERY_MS = 2000;
/** Load kept up after recovery, so that "every request succeeds" is said of a good number of requests. */
const AFTER_RECOVERY_MS = 1500;

interface LoadTenant {
  id: string;
  token: string;
}

/**
 * Application traffic from the test: per tenant two loops of reads and one of writes, each one request at
 * a time with a breath between (enough load to have requests in flight at any moment, no flood).
 */
function startLoad(base: string, tenants: LoadTenant[], label: string): RequestLoad {
  const load = new RequestLoad(base, label, 10000);
  for (const tenant of tenants) {
    load.run(tenant.id, tenant.token, 'read', 5);
    load.run(tenant.id, tenant.token, 'read', 5);
    load.run(tenant.id, tenant.token, 'write', 10);
  }
  return load;
}

/** One outcome in a line, for failure messages. */
function oneLine(o: Outcome): string {
  const answer = o.status === 0 ? `no answer (${o.error})` : `${o.status} ${o.code ?? ''}`;
  return `${o.tenant} ${o.kind}: ${answer} after ${Math.round(o.ms)} ms, Retry-After ${o.retryAfter}`;
}

describe('database faults under load (tenantctl serve)', function () {
  this.timeout(60000);
  let cluster: TestCluster;
  let plane: TestPlane;
  let tenants: LoadTenant[];
  let service: ChildService | undefined;

  before(async () => {
    cluster = await createTestCluster();
    // An admin role like a managed service's: no superuser, only CREATEDB, CREATEROLE and the stats role.
    await cluster.query(
      'postgres',
      "CREATE ROLE tp_admin LOGIN CREATEDB CREATEROLE PASSWORD 'managed-admin-pw'; GRANT pg_read_all_stats TO tp_admin",
    );
    plane = await createTestPlane();
    // Unbounded for this test's writes (the quota check itself still runs, in its transaction).
    await plane.tp.knex('tiers').where({ id: 'pro' }).update({ max_deployments: 1000000 });
    await plane.tp.servers.add(
      { id: 'pg-managed', adminUrl: cluster.url('tp_admin', 'managed-admin-pw'), maxConnections: 40 },
      TEST_ACTOR,
    );
    await plane.tp.shards.add({ id: 'shard-faults', serverId: 'pg-managed' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'shard-co', tier: 'pro' }, TEST_ACTOR);
    // The dedicated database is made by the same non-superuser admin; the router's connections to it carry
    // the tenant in their startup packet.
    await plane.tp.tenants.create({ id: 'big-co', tier: 'enterprise' }, TEST_ACTOR);
    const placed = await plane.tp.catalog.tenantRoute('big-co');
    expect(placed?.serverId).to.equal('pg-managed');
    tenants = [];
    for (const id of ['shard-co', 'big-co']) {
      tenants.push({ id, token: await plane.mint({ tenantId: id }) });
    }
  });

  beforeEach(async () => {
    service = await startTenantctl(
      ['serve'],
      plane.cliEnv({
        PORT: '0',
        ROUTER_ACQUIRE_TIMEOUT_MS: String(ACQUIRE_TIMEOUT_MS),
        // The load is far above the tiers' request rates; rate limits are not what this file tests.
        RATE_LIMITS: 'off',
      }),
      'tenantplane listening',
    );
  });

  afterEach(async () => {
    service?.child.kill('SIGKILL');
    service = undefined;
    // A test that failed halfway must not leave the next one without its server.
    if (!(await cluster.isReady())) await cluster.start();
  });

  after(async () => {
    await plane?.close();
    await cluster?.drop();
  });

  /** Rows the API acknowledged with 201 that the database does not hold, read back as the superuser. */
  async function missingAcknowledgedWrites(outcomes: Outcome[]): Promise<string[]> {
    const databases: Record<string, string> = {
      'shard-co': shardDatabaseName(plane.prefix, 'shard-faults'),
      'big-co': dedicatedDatabaseName(plane.prefix, 'big-co'),
    };
    const missing: string[] = [];
    for (const [tenant, database] of Object.entries(databases)) {
      const acknowledged = outcomes.filter((o) => o.tenant === tenant && o.id).map((o) => o.id!);
      expect(acknowledged.length, `writes acknowledged for ${tenant}`).to.be.greaterThan(0);
      const found = await cluster.query<{ id: string }>(
        database,
        'SELECT id::text AS id FROM deployments WHERE tenant_id = $1 AND id = ANY($2::uuid[])',
        [tenant, acknowledged],
      );
      const present = new Set(found.rows.map((row) => row.id));
      missing.push(...acknowledged.filter((id) => !present.has(id)));
    }
    return missing;
  }

  /**
   * What both faults must leave behind: the service still running; every answer a success or a 503 with
   * Retry-After (never a 500, never no answer); no request slower than the acquire timeout plus a margin;
   * every request started `RECOVERY_MS` after `recovered` a success; every acknowledged write stored.
   */
  async function expectSurvived(
    load: RequestLoad,
    fault: { from: number; recovered: number; mustFail: boolean },
  ): Promise<void> {
    const current = service!;
    expect(
      { exitCode: current.child.exitCode, signal: current.child.signalCode },
      `the service exited:\n${logTail(current)}`,
    ).to.deep.equal({ exitCode: null, signal: null });
    expect((await send(current.base, 'GET', '/health', tenants[0]!.token)).status).to.equal(200);

    const { outcomes } = load;
    const all = summary(outcomes);
    const unexpected = outcomes.filter(
      (o) =>
        !(o.status === 200 || o.status === 201 || (o.status === 503 && /^\d+$/.test(o.retryAfter ?? ''))),
    );
    expect(
      unexpected.slice(0, 3).map(oneLine),
      `answers other than 2xx or 503 with Retry-After; all: ${all}`,
    ).to.deep.equal([]);

    const slow = outcomes.filter((o) => o.ms > ACQUIRE_TIMEOUT_MS + LATENCY_MARGIN_MS);
    expect(
      slow
        .slice(0, 5)
        .map((o) => ({ tenant: o.tenant, kind: o.kind, ms: Math.round(o.ms), status: o.status })),
      `requests slower than ${ACQUIRE_TIMEOUT_MS + LATENCY_MARGIN_MS} ms`,
    ).to.deep.equal([]);

    if (fault.mustFail) {
      const during = outcomes.filter((o) => o.started >= fault.from && o.started < fault.recovered);
      expect(
        during.some((o) => o.status === 503),
        `the fault was seen by the traffic: ${summary(during)}`,
      ).to.equal(true);
    }

    const late = outcomes.filter((o) => o.started >= fault.recovered + RECOVERY_MS);
    for (const tenant of tenants) {
      for (const kind of ['read', 'write'] as const) {
        expect(
          late.filter((o) => o.tenant === tenant.id && o.kind === kind).length,
          `${kind}s of ${tenant.id} after recovery`,
        ).to.be.greaterThan(0);
      }
    }
    const failedLate = late.filter((o) => o.status >= 300);
    expect(
      failedLate.slice(0, 5).map((o) => ({
        tenant: o.tenant,
        kind: o.kind,
        status: o.status,
        code: o.code,
        afterRecoveryMs: Math.round(o.started - fault.recovered),
      })),
      `requests started ${RECOVERY_MS} ms after recovery that failed: ${summary(failedLate)}`,
    ).to.deep.equal([]);

    expect(await missingAcknowledgedWrites(outcomes), 'acknowledged writes missing').to.deep.equal([]);
  }

  it('keeps serving through a PostgreSQL restart: 503 with Retry-After while it is down, 2xx soon after', async () => {
    const load = startLoad(service!.base, tenants, 'restart');
    let fault = { from: 0, recovered: 0, mustFail: true };
    try {
      await load.warmedUp(tenants.map((t) => t.id));
      await sleep(300);
      const from = performance.now();
      await cluster.stop();
      await sleep(3000);
      // cluster.start() returns once pg_isready says the server accepts connections: the success clock.
      await cluster.start();
      fault = { from, recovered: performance.now(), mustFail: true };
      await sleep(RECOVERY_MS + AFTER_RECOVERY_MS);
    } finally {
      await load.stop();
    }
    await expectSurvived(load, fault);
  });

  it("keeps serving when the service's sessions are terminated under load", async () => {
    const load = startLoad(service!.base, tenants, 'terminate');
    // Sessions that die idle in a pool need not fail any request: only their being killed is required.
    let fault = { from: 0, recovered: 0, mustFail: false };
    let terminated = 0;
    try {
      await load.warmedUp(tenants.map((t) => t.id));
      await sleep(300);
      const from = performance.now();
      const roles = [appRoleName(plane.prefix, 'pg-managed')];
      // A few rounds, so that some sessions die idle in a pool and some in the middle of a statement.
      for (let round = 0; round < 5; round++) {
        const killed = await cluster.query<{ n: number }>(
          'postgres',
          'SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE usename = ANY($1)',
          [roles],
        );
        terminated += killed.rows[0]!.n;
        await sleep(150);
      }
      fault = { from, recovered: performance.now(), mustFail: false };
      await sleep(RECOVERY_MS + AFTER_RECOVERY_MS);
    } finally {
      await load.stop();
    }
    expect(terminated, 'sessions terminated').to.be.greaterThan(0);
    await expectSurvived(load, fault);
  });
});
