import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { DevIssuer } from '../src/auth/dev-issuer.js';
import { dedicatedDatabaseName, shardDatabaseName } from '../src/ids.js';
import type { Tenantplane } from '../src/tenantplane.js';
import { type ChildService, startTenantctl } from './support/child-service.js';
import { type PgProxy, startPgProxy } from './support/pg-proxy.js';
import { type Answer, logTail, type Outcome, RequestLoad, send, summary } from './support/request-load.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

/** The serving instance's lease settings (set in its environment), short so that the outage is short. */
const HEARTBEAT_MS = 500;
const LEASE_MS = 4000;
/** What the instance takes off its lease as it measures it (LEASE_MARGIN_MS in instance-registry.ts). */
const LEASE_MARGIN_MS = 1000;
/**
 * By the instance's own clock its lease has lapsed at the latest this long after the cut: its last
 * successful renewal was sent before the cut. (At the earliest a heartbeat and a renewal's time sooner.)
 */
const LEASE_LAPSED_MS = LEASE_MS - LEASE_MARGIN_MS;
/** The wait for a router connection (set in its environment); the catalog lookup's own timeout is 2 s. */
const ACQUIRE_TIMEOUT_MS = 1000;
/** No request may take longer than this: lookup timeout + acquire timeout + margin. Longer is a hang. */
const MAX_REQUEST_MS = 5000;
/** A refusal because of the catalog (a lookup that timed out) is answered within this. */
const REFUSAL_MS = 3000;
/** How long the control database stays unreachable for the serving process. */
const OUTAGE_MS = 6000;
/** After the path is back, every tenant is served again within this, and every request started later succeeds. */
const RECOVERY_MS = 4000;
/** Load kept up after recovery, so that "every request succeeds" is said of a good number of requests. */
const AFTER_RECOVERY_MS = 1500;

type Mode = 'hold' | 'cut';

/**
 * Requests of a warm tenant started this long after the cut are served from the route the instance has:
 * - hold (the path goes silent): until the change channel's round trip times out (1 s) the cached routes
 *   are fresh; after that a lookup waits the lookup timeout (2 s), by which time a 4 s lease has lapsed;
 * - cut (connections closed, new ones refused): the catalog fails at once and the kept routes stand in
 *   for it until the lease lapses (2.5-3 s after the cut).
 */
const SERVED_MS: Record<Mode, number> = { hold: 800, cut: 2000 };

/** An outcome in short, its start relative to the cut. */
function brief(o: Outcome, cutAt: number): string {
  const answer = o.status === 0 ? `no answer (${o.error})` : `${o.status}${o.code ? ` ${o.code}` : ''}`;
  return `${o.tenant} ${o.kind} at +${Math.round(o.started - cutAt)} ms: ${answer} after ${Math.round(o.ms)} ms`;
}

async function until(at: number): Promise<void> {
  const wait = at - performance.now();
  if (wait > 0) await sleep(wait);
}

describe('control database outage under load (tenantctl serve)', function () {
  this.timeout(40000);
  let plane: TestPlane<Tenantplane>;
  let proxy: PgProxy;
  let service: ChildService | undefined;
  const tokens: Record<string, string> = {};
  /** Served before the outage (their routes are cached), and never before it. */
  const warm = ['shard-co', 'big-co'];
  const fresh = 'new-co';
  const databases: Record<string, string> = {};

  before(async () => {
    plane = await createTestPlane({ serveTraffic: false });
    await plane.addServer();
    // Unbounded for this test's writes (the quota check itself still runs, in its transaction).
    await plane.tp.knex('tiers').where({ id: 'pro' }).update({ max_deployments: 1000000 });
    await plane.tp.shards.add({ id: 'shard-outage', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'shard-co', tier: 'pro' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'big-co', tier: 'enterprise' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: fresh, tier: 'pro' }, TEST_ACTOR);
    databases['shard-co'] = shardDatabaseName(plane.prefix, 'shard-outage');
    databases['big-co'] = dedicatedDatabaseName(plane.prefix, 'big-co');
    databases[fresh] = shardDatabaseName(plane.prefix, 'shard-outage');
    // The serving process verifies tokens of the development issuer whose key is in the plane's data folder.
    const issuer = await DevIssuer.load(plane.dataDir);
    for (const id of [...warm, fresh]) tokens[id] = await issuer.mint({ tenantId: id });
    proxy = await startPgProxy();
  });

  beforeEach(async () => {
    proxy.release();
    service = await startTenantctl(
      ['serve'],
      plane.cliEnv({
        PORT: '0',
        // Only this process reaches the control database through the proxy; tenant databases it reaches directly.
        CONTROL_DATABASE_URL: proxy.url(`${plane.prefix}_control`),
        INSTANCE_HEARTBEAT_MS: String(HEARTBEAT_MS),
        INSTANCE_LEASE_MS: String(LEASE_MS),
        ROUTER_ACQUIRE_TIMEOUT_MS: String(ACQUIRE_TIMEOUT_MS),
        RATE_LIMITS: 'off',
      }),
      'tenantplane listening',
    );
  });

  afterEach(async () => {
    proxy.release();
    const current = service;
    service = undefined;
    if (!current || current.child.exitCode !== null || current.child.signalCode !== null) return;
    // A clean stop leaves the instance registry, so the next process gets the whole budget at once.
    current.child.kill('SIGTERM');
    const stopped = await Promise.race([current.exited.then(() => true), sleep(5000).then(() => false)]);
    if (!stopped) {
      current.child.kill('SIGKILL');
      await current.exited;
      await adminQuery(`${plane.prefix}_control`, 'DELETE FROM instances');
    }
  });

  after(async () => {
    proxy?.release();
    await plane?.close();
    await proxy?.close();
  });

  /** Router sessions of the serving process on the tenants' databases. */
  async function routerSessions(): Promise<number> {
    const result = await adminQuery<{ n: number }>(
      'postgres',
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ANY($1) AND application_name = 'tenantplane'`,
      [[...new Set(Object.values(databases))]],
    );
    return result.rows[0]!.n;
  }

  /** Rows the API acknowledged with 201 that the database does not hold, read back as the superuser. */
  async function missingAcknowledgedWrites(outcomes: Outcome[]): Promise<string[]> {
    const missing: string[] = [];
    for (const tenant of warm) {
      const acknowledged = outcomes.filter((o) => o.tenant === tenant && o.id).map((o) => o.id!);
      expect(acknowledged.length, `writes acknowledged for ${tenant}`).to.be.greaterThan(0);
      const found = await adminQuery<{ id: string }>(
        databases[tenant]!,
        'SELECT id::text AS id FROM deployments WHERE tenant_id = $1 AND id = ANY($2::uuid[])',
        [tenant, acknowledged],
      );
      const present = new Set(found.rows.map((row) => row.id));
      missing.push(...acknowledged.filter((id) => !present.has(id)));
    }
    return missing;
  }

  async function outage(mode: Mode): Promise<void> {
    const { base } = service!;
    for (const tenant of warm) {
      for (let i = 0; i < 3; i++) {
        expect((await send(base, 'GET', '/api/v1/deployments?limit=5', tokens[tenant])).status).to.equal(200);
      }
    }
    const load = new RequestLoad(base, 'outage');
    for (const tenant of warm) {
      load.run(tenant, tokens[tenant]!, 'read', 5);
      load.run(tenant, tokens[tenant]!, 'read', 5);
      load.run(tenant, tokens[tenant]!, 'write', 10);
    }
    let cutAt = 0;
    let releasedAt = 0;
    const readiness: Array<{ at: number; answer: Answer }> = [];
    const health: Answer[] = [];
    let sessionsBefore = 0;
    let sessionsGoneAt = Number.POSITIVE_INFINITY;
    const firstServedAfterRelease: Record<string, number> = {};
    try {
      await sleep(500);
      sessionsBefore = await routerSessions();

      cutAt = performance.now();
      if (mode === 'hold') proxy.hold(() => true);
      else proxy.cut(() => true);

      const freshProbe = (async () => {
        await until(cutAt + 300);
        load.run(fresh, tokens[fresh]!, 'read', 50);
      })();
      const probes = (async () => {
        for (const at of [1200, 3500]) {
          await until(cutAt + at);
          const [ready, alive] = await Promise.all([
            send(base, 'GET', '/ready'),
            send(base, 'GET', '/health'),
          ]);
          readiness.push({ at, answer: ready });
          health.push(alive);
        }
      })();
      const sessions = (async () => {
        await until(cutAt + LEASE_LAPSED_MS);
        while (performance.now() < cutAt + OUTAGE_MS - 500) {
          if ((await routerSessions()) === 0) {
            sessionsGoneAt = performance.now() - cutAt;
            return;
          }
          await sleep(50);
        }
      })();
      await Promise.all([freshProbe, probes, sessions]);
      await until(cutAt + OUTAGE_MS);

      proxy.release();
      releasedAt = performance.now();
      const deadline = releasedAt + RECOVERY_MS + 2000;
      while (performance.now() < deadline) {
        for (const tenant of [...warm, fresh]) {
          const served = load.outcomes.find(
            (o) => o.tenant === tenant && o.started >= releasedAt && o.status < 300,
          );
          if (served && firstServedAfterRelease[tenant] === undefined) {
            firstServedAfterRelease[tenant] = Math.round(served.started + served.ms - releasedAt);
          }
        }
        if (Object.keys(firstServedAfterRelease).length === warm.length + 1) break;
        await sleep(20);
      }
      await until(Math.max(performance.now(), releasedAt + RECOVERY_MS) + AFTER_RECOVERY_MS);
    } finally {
      proxy.release();
      await load.stop();
    }

    const { outcomes } = load;
    const current = service!;
    // What the failure messages tell about the run.
    const timings = JSON.stringify({
      mode,
      sessionsBefore,
      sessionsGoneAfterCutMs:
        sessionsGoneAt === Number.POSITIVE_INFINITY ? 'never' : Math.round(sessionsGoneAt),
      readyMs: readiness.map((r) => Math.round(r.answer.ms)),
      renewalFailuresLogged: current.stderr().split('could not renew the instance lease').length - 1,
      firstServedAfterRelease,
      all: summary(outcomes),
    });

    // The process stayed up and answered its probes quickly throughout.
    expect(
      { exitCode: current.child.exitCode, signal: current.child.signalCode },
      `the service exited:\n${logTail(current)}`,
    ).to.deep.equal({ exitCode: null, signal: null });
    for (const alive of health)
      expect([alive.status, alive.ms < 500], 'GET /health during the outage').to.deep.equal([200, true]);
    expect((await send(base, 'GET', '/health')).status).to.equal(200);

    // Every answer is a success or a 503 with Retry-After: never a 500, never no answer.
    const unexpected = outcomes.filter(
      (o) =>
        !(o.status === 200 || o.status === 201 || (o.status === 503 && /^\d+$/.test(o.retryAfter ?? ''))),
    );
    expect(
      unexpected.slice(0, 5).map((o) => brief(o, cutAt)),
      `other answers; ${timings}`,
    ).to.deep.equal([]);
    // Nothing hangs: no request took longer than the lookup timeout plus the acquire timeout plus a margin.
    const slow = outcomes.filter((o) => o.ms > MAX_REQUEST_MS);
    expect(
      slow.slice(0, 5).map((o) => brief(o, cutAt)),
      `requests over ${MAX_REQUEST_MS} ms; ${timings}`,
    ).to.deep.equal([]);

    const warmOutcomes = outcomes.filter((o) => warm.includes(o.tenant));
    // While the lease holds, the warm tenants are served from the routes the instance has.
    const early = warmOutcomes.filter((o) => o.started >= cutAt && o.started < cutAt + SERVED_MS[mode]);
    for (const tenant of warm) {
      for (const kind of ['read', 'write'] as const) {
        expect(
          early.filter((o) => o.tenant === tenant && o.kind === kind).length,
          `${kind}s of ${tenant} in the first ${SERVED_MS[mode]} ms`,
        ).to.be.greaterThan(0);
      }
    }
    expect(
      early
        .filter((o) => o.status >= 300)
        .slice(0, 5)
        .map((o) => brief(o, cutAt)),
      `warm requests refused within ${SERVED_MS[mode]} ms of the cut, while the lease held; ${timings}`,
    ).to.deep.equal([]);

    // Once the lease has lapsed by the instance's clock, nothing is served without the catalog: 503
    // catalog_unavailable, answered within the lookup timeout.
    const late = warmOutcomes.filter(
      (o) => o.started >= cutAt + LEASE_LAPSED_MS + 100 && o.started + o.ms < releasedAt,
    );
    expect(late.length, 'warm requests after the lease lapsed').to.be.greaterThan(0);
    expect(
      late
        .filter((o) => o.status !== 503 || o.code !== 'catalog_unavailable' || o.ms > REFUSAL_MS)
        .slice(0, 5)
        .map((o) => brief(o, cutAt)),
      `warm requests after the lease lapsed that were not a quick 503 catalog_unavailable; ${timings}`,
    ).to.deep.equal([]);

    // A tenant it has no route for is refused at once: 503 catalog_unavailable with Retry-After, no hang.
    const refusedFresh = outcomes.filter((o) => o.tenant === fresh && o.started + o.ms < releasedAt);
    expect(refusedFresh.length, `requests of ${fresh} during the outage`).to.be.greaterThan(1);
    expect(
      refusedFresh
        .filter((o) => o.status !== 503 || o.code !== 'catalog_unavailable' || o.ms > REFUSAL_MS)
        .slice(0, 5)
        .map((o) => brief(o, cutAt)),
      `requests of ${fresh} during the outage that were not a quick 503 catalog_unavailable; ${timings}`,
    ).to.deep.equal([]);

    // /ready: degraded but ready while the lease holds (it still serves the routes it has), then not
    // ready; answered at once either way (the lease renewals are its check of the control database).
    for (const { at, answer } of readiness) {
      const leaseHolds = at < 2000;
      expect(
        {
          status: answer.status,
          body: answer.body?.status,
          control: answer.body?.checks?.control_database,
          quick: answer.ms < 500,
        },
        `GET /ready ${at} ms after the cut, answered after ${Math.round(answer.ms)} ms`,
      ).to.deep.equal({
        status: leaseHolds ? 200 : 503,
        body: leaseHolds ? 'degraded' : 'not_ready',
        control: 'unreachable',
        quick: true,
      });
    }

    // Once the path is back, every tenant is served again within seconds, without a restart.
    for (const tenant of [...warm, fresh]) {
      expect(
        firstServedAfterRelease[tenant],
        `ms after release until ${tenant} was served; ${timings}`,
      ).to.be.below(RECOVERY_MS);
    }
    const recovered = outcomes.filter((o) => o.started >= releasedAt + RECOVERY_MS);
    for (const tenant of [...warm, fresh]) {
      expect(
        recovered.filter((o) => o.tenant === tenant).length,
        `requests of ${tenant} after recovery`,
      ).to.be.greaterThan(0);
    }
    expect(
      recovered
        .filter((o) => o.status >= 300)
        .slice(0, 5)
        .map((o) => brief(o, cutAt)),
      `requests started ${RECOVERY_MS} ms after release that failed; ${timings}`,
    ).to.deep.equal([]);
    const ready = await send(base, 'GET', '/ready');
    expect([ready.status, ready.body?.checks?.control_database]).to.deep.equal([200, 'ok']);

    // Every write acknowledged with 201, before, during or after the outage, is in its database.
    expect(await missingAcknowledgedWrites(outcomes), 'acknowledged writes missing').to.deep.equal([]);

    // Once its lease has lapsed it also holds no router connections: by then another instance may have
    // taken its share of the servers' budgets (docs/connection-budget.md).
    expect(
      sessionsBefore,
      'router sessions before the cut (else the next check says nothing)',
    ).to.be.greaterThan(0);
    expect(
      sessionsGoneAt,
      `ms after the cut until the instance held no router connections (its lease lapsed by ${LEASE_LAPSED_MS} ms); ${timings}`,
    ).to.be.below(OUTAGE_MS - 500);
  }

  it('keeps serving warm tenants while its lease holds when the path to the control database goes silent, then 503, and recovers', async () => {
    await outage('hold');
  });

  it('keeps serving warm tenants while its lease holds when the control database refuses connections, then 503, and recovers', async () => {
    await outage('cut');
  });
});
