import { expect } from 'chai';
import { DevIssuer } from '../src/auth/dev-issuer.js';
import { appRoleName } from '../src/ids.js';
import type { Tenantplane } from '../src/tenantplane.js';
import { type ChildService, request, startTenantctl } from './support/child-service.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

const SERVER = 'pg-budget';
/** Registered budget 20: the routers of all instances together may hold 16 connections. */
const BUDGET = 20;
const ROUTER_BUDGET = 16;
const DEDICATED = ['ent-1', 'ent-2', 'ent-3', 'ent-4', 'ent-5', 'ent-6', 'ent-7', 'ent-8'];
const SHARED = ['shr-1', 'shr-2', 'shr-3', 'shr-4'];

interface LoadResult {
  statuses: Map<number, number>;
  bodies: string[];
}

describe('connection budget shared by several serve instances', function () {
  this.timeout(120000);
  let plane: TestPlane<Tenantplane>;
  let appRole: string;
  const services: ChildService[] = [];
  const tokens = new Map<string, string>();

  before(async () => {
    // The test's own plane only provisions: every serving instance below is a tenantctl child.
    plane = await createTestPlane({ serveTraffic: false });
    await plane.addServer(SERVER, BUDGET);
    await plane.tp.shards.add({ id: 'shard-budget', serverId: SERVER }, TEST_ACTOR);
    for (const id of DEDICATED) await plane.tp.tenants.create({ id, tier: 'enterprise' }, TEST_ACTOR);
    for (const id of SHARED) await plane.tp.tenants.create({ id, tier: 'starter' }, TEST_ACTOR);
    appRole = appRoleName(plane.prefix, SERVER);
    const env = serveEnv();
    for (let i = 0; i < 3; i++) {
      services.push(await startTenantctl(['serve'], env, 'tenantplane listening'));
    }
    const issuer = await DevIssuer.load(plane.dataDir);
    for (const id of [...DEDICATED, ...SHARED]) tokens.set(id, await issuer.mint({ tenantId: id }));
  });

  after(async () => {
    for (const service of services) service.child.kill('SIGKILL');
    await Promise.all(services.map((service) => service.exited));
    await plane.close();
  });

  /** A serve child's environment: a short lease, so a killed instance's share is taken back within seconds. */
  function serveEnv(): NodeJS.ProcessEnv {
    return plane.cliEnv({
      PORT: '0',
      RATE_LIMITS: 'off',
      ROUTER_ACQUIRE_TIMEOUT_MS: '5000',
      INSTANCE_HEARTBEAT_MS: '250',
      INSTANCE_LEASE_MS: '2000',
    });
  }

  /** The server's sessions of the application role: what all the routers hold there. */
  async function routerSessions(): Promise<number> {
    const result = await adminQuery<{ n: number }>(
      'postgres',
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1',
      [appRole],
    );
    return result.rows[0]!.n;
  }

  async function shares(): Promise<number[]> {
    const rows = await plane.tp
      .knex('instances')
      .where({ kind: 'serve' })
      .orderBy('router_share_ppm')
      .pluck<number[]>('router_share_ppm');
    return rows;
  }

  async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Requests from `loops` concurrent loops for `ms`, spread over the services and all tenants. */
  async function load(targets: ChildService[], ms: number, loops = 24): Promise<LoadResult> {
    const statuses = new Map<number, number>();
    const bodies: string[] = [];
    const tenants = [...DEDICATED, ...SHARED];
    const until = Date.now() + ms;
    await Promise.all(
      Array.from({ length: loops }, async (_, loop) => {
        for (let i = loop; Date.now() < until; i += loops) {
          const tenant = tenants[i % tenants.length]!;
          const service = targets[i % targets.length]!;
          const answer = await request(
            service.base,
            'GET',
            '/api/v1/deployments?limit=5',
            tokens.get(tenant),
          );
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          if (answer.status !== 200 && bodies.length < 5) bodies.push(answer.body);
        }
      }),
    );
    return { statuses, bodies };
  }

  /** Runs `work` while sampling the server's router sessions; returns the most seen as `peak`. */
  async function peakSessionsDuring(
    work: () => Promise<LoadResult>,
  ): Promise<{ peak: number; result: LoadResult }> {
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await routerSessions());
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    let result: LoadResult;
    try {
      result = await work();
    } finally {
      sampling = false;
      await sampler;
    }
    return { peak: Math.max(peak, await routerSessions()), result };
  }

  it('splits the budget evenly between the instances', async () => {
    await waitFor('three even shares', async () => (await shares()).join() === '333333,333333,333333', 5000);
  });

  it('keeps the sum of every instance’s connections within the budget under load, with no refusals', async () => {
    const { peak, result } = await peakSessionsDuring(() => load(services, 4000));
    expect(Object.fromEntries(result.statuses), result.bodies.join('\n')).to.have.keys('200');
    expect(result.statuses.get(200)).to.be.greaterThan(100);
    // Nine databases under load from three instances want more than 16 connections: the limit was reached.
    expect(peak).to.be.within(ROUTER_BUDGET / 2 + 1, ROUTER_BUDGET);
    for (const service of services) expect(service.stderr()).not.to.include('53300');
  });

  it('gives a killed instance’s share to the others within seconds, still within the budget', async () => {
    const killed = services.pop()!;
    killed.child.kill('SIGKILL');
    await killed.exited;
    const started = Date.now();
    await waitFor('two even shares', async () => (await shares()).join() === '500000,500000', 10000);
    const takeoverMs = Date.now() - started;
    // The lease is 2 s; a renewal every 250 ms notices and hands over.
    expect(takeoverMs).to.be.below(6000);
    const { peak, result } = await peakSessionsDuring(() => load(services, 3000));
    expect(Object.fromEntries(result.statuses), result.bodies.join('\n')).to.have.keys('200');
    expect(peak).to.be.within(1, ROUTER_BUDGET);
    for (const service of services) {
      const metrics = await request(service.base, 'GET', '/metrics');
      expect(metrics.body).to.include(`tenantplane_router_connection_limit{server="${SERVER}"} 8`);
    }
  });

  it('shrinks the others before a new instance takes its share', async () => {
    const env = serveEnv();
    let peak = 0;
    let sampling = true;
    let maxShares = 0;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await routerSessions());
        maxShares = Math.max(
          maxShares,
          (await shares()).reduce((sum, ppm) => sum + ppm, 0),
        );
      }
    })();
    try {
      const during = load(services, 4000);
      services.push(await startTenantctl(['serve'], env, 'tenantplane listening'));
      const result = await during;
      expect(Object.fromEntries(result.statuses), result.bodies.join('\n')).to.have.keys('200');
    } finally {
      sampling = false;
      await sampler;
    }
    expect(peak).to.be.within(1, ROUTER_BUDGET);
    expect(maxShares).to.be.at.most(1_000_000);
    await waitFor('three even shares', async () => (await shares()).join() === '333333,333333,333333', 5000);
  });
});
