import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { DURATION_BUCKETS, HttpRequestSeries } from '../src/metrics/http-request-series.js';
import { OTHER_TENANTS } from '../src/metrics/metrics.js';
import { TopTenants } from '../src/metrics/top-tenants.js';
import { callJson } from './support/http-client.js';
import { type ExpositionSample, parseExposition } from './support/prometheus-text.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

type Sample = Pick<ExpositionSample, 'name' | 'labels' | 'value'>;

function parse(text: string): Sample[] {
  return parseExposition(text).samples;
}

/**
 * `promtool check metrics` on a page: Prometheus's own parser and its naming and HELP lints, '' when it
 * takes the page as it is. It does not look for duplicate series (parseExposition does). Debian's
 * `prometheus` package ships it; `.ci/run` installs it, and without it the test fails saying so.
 */
function promtoolProblems(page: string): string {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: page, encoding: 'utf8', timeout: 20000 });
  if (run.error)
    throw new Error(`promtool did not run (apt-get install prometheus): ${run.error.message}`, {
      cause: run.error,
    });
  return run.status === 0 ? '' : `promtool exited ${run.status}: ${run.stdout}${run.stderr}`;
}

function pick(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter(
    (sample) =>
      sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
}

const METRICS_TOKEN = 'scrape-secret';

describe('metrics', function () {
  this.timeout(120000);
  let plane: TestPlane;
  let base: string;
  const tokens: Record<string, string> = {};

  async function scrape(): Promise<Sample[]> {
    const answer = await callJson(base, METRICS_TOKEN, 'GET', '/metrics');
    expect(answer.status).to.equal(200);
    expect(answer.headers.get('content-type')).to.match(/^text\/plain/);
    return parse(answer.body);
  }

  before(async () => {
    plane = await createTestPlane({}, { METRICS_TOKEN, METRICS_TENANT_LABELS: '50' });
    await plane.addServer();
    await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'alpha', tier: 'starter' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'corp', tier: 'enterprise' }, TEST_ACTOR);
    for (const tenant of ['alpha', 'corp']) tokens[tenant] = await plane.mint({ tenantId: tenant });
    tokens.admin = await plane.mint({ admin: true });
    base = await plane.listen();
  });
  after(async () => plane.close());

  it('needs the metrics token when one is configured', async () => {
    expect((await callJson(base, undefined, 'GET', '/metrics')).status).to.equal(401);
    expect((await callJson(base, 'wrong', 'GET', '/metrics')).status).to.equal(401);
  });

  it('counts requests by tier, route pattern and status, and exposes pools, cache, jobs and migrations', async () => {
    const created = await callJson(base, tokens.alpha, 'POST', '/api/v1/deployments', {
      project_name: 'web',
      status: 'ready',
    });
    expect(created.status).to.equal(201);
    expect(
      (await callJson(base, tokens.alpha, 'GET', `/api/v1/deployments/${created.body.id}`)).status,
    ).to.equal(200);
    const missing = '00000000-0000-4000-8000-000000000000';
    expect((await callJson(base, tokens.corp, 'GET', `/api/v1/deployments/${missing}`)).status).to.equal(404);
    expect((await callJson(base, tokens.alpha, 'GET', '/no/such/path')).status).to.equal(404);
    const run = await callJson(base, tokens.admin, 'POST', '/admin/v1/migrations/runs', {});
    expect(run.status).to.equal(202);
    await plane.tp.jobs.wait('migration-run', run.body.job_id);

    const samples = await scrape();
    expect(
      pick(samples, 'tenantplane_http_requests_total', {
        tier: 'starter',
        route: '/api/v1/deployments/:id',
        method: 'GET',
        status: '200',
      })[0]?.value,
    ).to.equal(1);
    expect(
      pick(samples, 'tenantplane_http_requests_total', {
        tier: 'enterprise',
        route: '/api/v1/deployments/:id',
        status: '404',
      })[0]?.value,
    ).to.equal(1);
    expect(
      pick(samples, 'tenantplane_http_requests_total', { route: 'unmatched', status: '404' }),
    ).to.have.length(1);
    expect(
      pick(samples, 'tenantplane_http_requests_total', {
        tier: 'none',
        route: '/admin/v1/migrations/runs',
        status: '202',
      }),
    ).to.have.length(1);
    expect(
      pick(samples, 'tenantplane_http_request_duration_seconds_count', {
        tier: 'starter',
        route: '/api/v1/deployments',
        method: 'POST',
        status: '201',
      })[0]?.value,
    ).to.equal(1);
    // Raw paths never become labels.
    expect(
      samples.some((sample) => Object.values(sample.labels).some((value) => value.includes(created.body.id))),
    ).to.be.false;

    expect(pick(samples, 'tenantplane_router_pools_open', { server: 'pg-main' })[0]?.value).to.equal(2);
    const connections = pick(samples, 'tenantplane_router_connections', { server: 'pg-main' });
    expect(connections.map((sample) => sample.labels.state).sort()).to.deep.equal(['idle', 'in_use']);
    expect(pick(samples, 'tenantplane_router_waiting_requests', { server: 'pg-main' })[0]?.value).to.equal(0);
    expect(
      pick(samples, 'tenantplane_catalog_cache_lookups_total', { result: 'miss' })[0]?.value,
    ).to.be.at.least(2);
    expect(
      pick(samples, 'tenantplane_catalog_cache_lookups_total', { result: 'hit' })[0]?.value,
    ).to.be.at.least(1);
    expect(
      pick(samples, 'tenantplane_jobs', { queue: 'migration-run', state: 'completed' })[0]?.value,
    ).to.equal(1);
    expect(
      pick(samples, 'tenantplane_job_runs_total', { queue: 'migration-run', state: 'completed' })[0]?.value,
    ).to.equal(1);
    expect(
      pick(samples, 'tenantplane_job_duration_seconds_count', { queue: 'migration-run' })[0]?.value,
    ).to.equal(1);
    expect(
      pick(samples, 'tenantplane_migration_runs_total', { direction: 'up', status: 'succeeded' })[0]?.value,
    ).to.equal(1);
    expect(pick(samples, 'tenantplane_tenant_requests_total', { tenant: 'alpha' })[0]?.value).to.equal(2);
  });

  it('writes each series once per page, refusals before routing under each mount apart', async () => {
    const requests = (samples: Sample[], route: string, status: string) =>
      pick(samples, 'tenantplane_http_requests_total', { tier: 'none', route, method: 'GET', status })[0]
        ?.value ?? 0;
    const before = await scrape();
    // Refused before a route took them, with the same tier, method and status under both mounts (and,
    // for the 404s, outside both): each pair used to share one label set.
    expect((await callJson(base, undefined, 'GET', '/api/v1/deployments')).status).to.equal(401);
    expect((await callJson(base, undefined, 'GET', '/admin/v1/tenants')).status).to.equal(401);
    expect((await callJson(base, tokens.admin, 'GET', '/admin/v1/no-such-route')).status).to.equal(404);
    expect((await callJson(base, undefined, 'GET', '/no/such/path')).status).to.equal(404);
    // express matches mount paths without regard to case: the label is the mount, not the request's spelling.
    expect((await callJson(base, tokens.alpha, 'GET', '/API/V1/deployments')).status).to.equal(200);

    const answer = await callJson(base, METRICS_TOKEN, 'GET', '/metrics');
    expect(answer.status).to.equal(200);
    const page = parseExposition(answer.body);
    // No two samples on the page share a name and label set, each family is one group: what Prometheus
    // needs to keep every sample.
    expect(page.problems).to.deep.equal([]);
    expect(page.samples.length).to.be.greaterThan(50);
    const after = page.samples;
    expect(
      requests(after, '/api/v1 (unrouted)', '401') - requests(before, '/api/v1 (unrouted)', '401'),
    ).to.equal(1);
    expect(
      requests(after, '/admin/v1 (unrouted)', '401') - requests(before, '/admin/v1 (unrouted)', '401'),
    ).to.equal(1);
    expect(
      requests(after, '/admin/v1 (unrouted)', '404') - requests(before, '/admin/v1 (unrouted)', '404'),
    ).to.equal(1);
    expect(requests(after, 'unmatched', '404') - requests(before, 'unmatched', '404')).to.equal(1);
    expect(after.filter((sample) => /API\/V1/.test(sample.labels.route ?? ''))).to.deep.equal([]);
    expect(promtoolProblems(answer.body)).to.equal('');
  });

  it('keeps the per-tenant label set bounded with 5,000 tenants, the busiest one tracked', async () => {
    // 5,000 active tenants on the shard, straight into the catalog: a shard tenant needs nothing else.
    await plane.tp.knex.raw(
      `INSERT INTO tenants (id, name, tier, status, database_id)
       SELECT 'load-' || g, 'load ' || g, 'starter', 'active', 'shard-one' FROM generate_series(1, 5000) g`,
    );
    const before = await scrape();
    const apiBefore = pick(before, 'tenantplane_tenant_requests_total').reduce((sum, s) => sum + s.value, 0);
    const order: string[] = [];
    for (let index = 1; index <= 5000; index++) {
      order.push(`load-${index}`);
      if (index % 20 === 0) order.push('load-1');
    }
    const minted = new Map<string, string>();
    for (const tenant of new Set(order)) minted.set(tenant, await plane.mint({ tenantId: tenant }));
    let next = 0;
    const failures: number[] = [];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < order.length) {
          const tenant = order[next++]!;
          const answer = await callJson(base, minted.get(tenant), 'GET', '/api/v1/deployments?limit=1');
          if (answer.status !== 200) failures.push(answer.status);
        }
      }),
    );
    expect(failures).to.deep.equal([]);

    const samples = await scrape();
    const perTenant = pick(samples, 'tenantplane_tenant_requests_total');
    expect(perTenant.length).to.be.at.most(51);
    expect(perTenant.filter((sample) => sample.labels.tenant === OTHER_TENANTS)).to.have.length(1);
    // Every request is counted exactly once across the tracked tenants and the rest.
    const total = perTenant.reduce((sum, sample) => sum + sample.value, 0);
    expect(total - apiBefore).to.equal(order.length);
    // load-1 had more than total/50 of the requests: space-saving guarantees it a label.
    expect(pick(samples, 'tenantplane_tenant_requests_total', { tenant: 'load-1' })).to.have.length(1);
  });

  it('tracks heavy hitters and keeps counts monotonic in the space-saving set', () => {
    const top = new TopTenants(10);
    for (let index = 0; index < 5000; index++) {
      top.record(`t-${index}`);
      if (index % 5 === 0) top.record('hot');
    }
    expect(top.counts()).to.have.length(10);
    expect(top.total).to.equal(6000);
    const hot = top.counts().find(([id]) => id === 'hot');
    expect(hot?.[1]).to.equal(1000);
    expect(top.other + top.counts().reduce((sum, [, count]) => sum + count, 0)).to.equal(6000);
    expect(() => new TopTenants(0)).to.throw(TypeError);
  });

  it('writes the request series as a Prometheus counter and histogram, label values escaped', () => {
    const series = new HttpRequestSeries();
    series.record('pro', '/api/v1', '/deployments/:id', 'GET', 200, 0.003);
    series.record('pro', '/api/v1', '/deployments/:id', 'GET', 200, 0.0025);
    series.record('pro', '/api/v1', '/deployments/:id', 'GET', 200, 42);
    series.record('none', '', undefined, 'GET', 404, 0.0001);
    series.record('odd "tier"\\\n', '', '/x', 'POST', 500, 0.2);
    // Refused before routing under each mount: a route label each.
    series.record('none', '/api/v1', undefined, 'GET', 401, 0.0001);
    series.record('none', '/admin/v1', undefined, 'GET', 401, 0.0001);
    const text = series.exposition();
    expect(parseExposition(text).problems).to.deep.equal([]);
    expect(text.endsWith('\n')).to.equal(true);
    expect(text.match(/^# TYPE tenantplane_http_requests_total counter$/gm)).to.have.length(1);
    expect(text.match(/^# TYPE tenantplane_http_request_duration_seconds histogram$/gm)).to.have.length(1);
    const samples = parse(text);
    const labels = { tier: 'pro', route: '/api/v1/deployments/:id', method: 'GET', status: '200' };
    expect(pick(samples, 'tenantplane_http_requests_total', labels)[0]?.value).to.equal(3);
    for (const route of ['/api/v1 (unrouted)', '/admin/v1 (unrouted)'])
      expect(pick(samples, 'tenantplane_http_requests_total', { route, status: '401' })[0]?.value).to.equal(
        1,
      );
    const buckets = pick(samples, 'tenantplane_http_request_duration_seconds_bucket', labels);
    // Cumulative, bounds inclusive: 0.0025 falls in le="0.0025", 0.003 in le="0.005", 42 only in +Inf.
    expect(buckets.map((sample) => [sample.labels.le, sample.value])).to.deep.equal([
      ...DURATION_BUCKETS.map((bound) => [String(bound), bound < 0.0025 ? 0 : bound < 0.005 ? 1 : 2]),
      ['+Inf', 3],
    ]);
    expect(pick(samples, 'tenantplane_http_request_duration_seconds_sum', labels)[0]?.value).to.be.closeTo(
      42.0055,
      1e-9,
    );
    expect(pick(samples, 'tenantplane_http_request_duration_seconds_count', labels)[0]?.value).to.equal(3);
    expect(
      pick(samples, 'tenantplane_http_requests_total', { route: 'unmatched', status: '404' })[0]?.value,
    ).to.equal(1);
    expect(text).to.include('tier="odd \\"tier\\"\\\\\\n"');

    // Two lookup keys that spell the same route label still make one series.
    const spelled = new HttpRequestSeries();
    spelled.record('pro', '/api/v1', '/deployments', 'GET', 200, 0.01);
    spelled.record('pro', '', '/api/v1/deployments', 'GET', 200, 0.01);
    const page = parseExposition(spelled.exposition());
    expect(page.problems).to.deep.equal([]);
    expect(pick(page.samples, 'tenantplane_http_requests_total')).to.have.length(1);
    expect(pick(page.samples, 'tenantplane_http_requests_total')[0]?.value).to.equal(2);
  });

  it('serves no /metrics and measures nothing with METRICS=off', async () => {
    const quiet = await createTestPlane({}, { METRICS: 'off', RATE_LIMITS: 'off' });
    try {
      await quiet.addServer();
      await quiet.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
      await quiet.tp.tenants.create({ id: 'plain', tier: 'starter' }, TEST_ACTOR);
      const quietBase = await quiet.listen();
      const token = await quiet.mint({ tenantId: 'plain' });
      const answer = await callJson(quietBase, token, 'GET', '/api/v1/deployments');
      expect(answer.status).to.equal(200);
      expect(answer.headers.get('x-ratelimit-limit')).to.equal(null);
      expect((await callJson(quietBase, undefined, 'GET', '/metrics')).status).to.equal(404);
      expect(quiet.tp.metrics.tenants.total).to.equal(0);
    } finally {
      await quiet.close();
    }
  });
});
