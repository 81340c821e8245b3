import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { callJson } from './support/http-client.js';
import { INFRA, parseYaml } from './support/infra-files.js';
import { parseExposition } from './support/prometheus-text.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

interface Target {
  refId: string;
  expr: string;
  datasource?: { uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown }> };
}

const DASHBOARD = path.join(INFRA, 'grafana', 'dashboards', 'tenantplane.json');
const HISTOGRAM_SUFFIX = /_(bucket|sum|count)$/;

/** The expression as Prometheus would receive it: Grafana's variables replaced by what Grafana sends. */
function asPromQL(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$tier', '.*');
}

/** tenantplane_* series an expression reads. */
function seriesOf(expr: string): string[] {
  return [...new Set(expr.match(/\btenantplane_[a-z_]+/g) ?? [])];
}

/** Label names an expression groups by or matches on. */
function labelsOf(expr: string): string[] {
  const grouped = [...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((match) =>
    match[1]!.split(',').map((label) => label.trim()),
  );
  const matched = [...expr.matchAll(/\{([^}]*)\}/g)].flatMap((match) =>
    [...match[1]!.matchAll(/([a-z_]+)\s*(=~|!~|!=|=)/g)].map((pair) => pair[1]!),
  );
  return [...new Set([...grouped, ...matched].filter((label) => label !== ''))];
}

describe('Grafana dashboard (infra/grafana)', function () {
  this.timeout(120000);
  let dashboard: Dashboard;
  let queries: Array<{ panel: string; expr: string }>;

  before(async () => {
    dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as Dashboard;
    queries = dashboard.panels.flatMap((panel) =>
      (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })),
    );
  });

  it('has a section for each part of the fleet, panels on one grid that do not overlap', () => {
    const rows = dashboard.panels.filter((panel) => panel.type === 'row').map((panel) => panel.title);
    expect(rows).to.deep.equal([
      'Fleet overview',
      'Latency and errors per tier',
      'Pools and connections per server',
      'Jobs',
      'Migrations',
      'Backups',
    ]);
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).to.equal(ids.length);
    const taken = new Set<string>();
    for (const panel of dashboard.panels) {
      const { x, y, w, h } = panel.gridPos;
      expect(x + w, panel.title).to.be.at.most(24);
      for (let row = y; row < y + h; row++)
        for (let column = x; column < x + w; column++) {
          const cell = `${row}:${column}`;
          expect(taken.has(cell), `${panel.title} overlaps at ${cell}`).to.equal(false);
          taken.add(cell);
        }
      if (panel.type === 'row') continue;
      // Every query goes to the data source the viewer picks, so the dashboard imports into any Grafana.
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
      expect(panel.datasource?.uid, panel.title).to.equal('${datasource}');
      expect(panel.targets, panel.title).to.be.an('array').that.is.not.empty;
    }
    expect(dashboard.templating.list.map((variable) => variable.name)).to.include('datasource');
  });

  it('writes every query in PromQL that Prometheus parses (promtool check rules)', async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'tenantplane-dashboard-'));
    try {
      const rules = {
        groups: [
          {
            name: 'dashboard',
            rules: queries.map((query, index) => ({
              record: `dashboard:query_${index}`,
              expr: asPromQL(query.expr),
            })),
          },
        ],
      };
      await writeFile(path.join(folder, 'dashboard.yml'), stringify(rules));
      const run = spawnSync('promtool', ['check', 'rules', 'dashboard.yml'], {
        cwd: folder,
        encoding: 'utf8',
        timeout: 20000,
      });
      if (run.error)
        throw new Error(`promtool did not run (apt-get install prometheus): ${run.error.message}`);
      expect(run.status, `${run.stdout}${run.stderr}`).to.equal(0);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  describe('against the series a running service exposes', () => {
    let plane: TestPlane;
    let page: ReturnType<typeof parseExposition>;

    before(async () => {
      plane = await createTestPlane({}, { METRICS_TENANT_LABELS: '10' });
      await plane.addServer();
      await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'alpha', tier: 'starter' }, TEST_ACTOR);
      const base = await plane.listen();
      const tenant = await plane.mint({ tenantId: 'alpha' });
      const admin = await plane.mint({ admin: true });
      // A mixed run: routed requests, refusals before routing, and a job.
      expect((await callJson(base, tenant, 'GET', '/api/v1/deployments')).status).to.equal(200);
      expect((await callJson(base, undefined, 'GET', '/api/v1/deployments')).status).to.equal(401);
      const run = await callJson(base, admin, 'POST', '/admin/v1/migrations/runs', {});
      expect(run.status).to.equal(202);
      await plane.tp.jobs.wait('migration-run', run.body.job_id);
      const scraped = await callJson(base, undefined, 'GET', '/metrics');
      expect(scraped.status).to.equal(200);
      page = parseExposition(scraped.body);
    });
    after(async () => plane?.close());

    /** A family's label names: from its samples on the page, and from its declaration for the families
     * that have none yet (a counter with labels has no sample before its first event). */
    function labelNames(series: string): Set<string> {
      const family = page.types.has(series) ? series : series.replace(HISTOGRAM_SUFFIX, '');
      const names = new Set<string>();
      for (const sample of page.samples)
        if (sample.name === series || sample.name.replace(HISTOGRAM_SUFFIX, '') === family)
          for (const label of Object.keys(sample.labels)) names.add(label);
      const declared = plane.tp.metrics.registry.getSingleMetric(family) as unknown as
        | { labelNames?: string[] }
        | undefined;
      for (const label of declared?.labelNames ?? []) names.add(label);
      return names;
    }

    it('reads only series that /metrics exposes', () => {
      const missing = queries.flatMap(({ panel, expr }) =>
        seriesOf(expr)
          .filter(
            (series) => !page.types.has(series) && !page.types.has(series.replace(HISTOGRAM_SUFFIX, '')),
          )
          .map((series) => `${panel}: ${series}`),
      );
      expect(missing).to.deep.equal([]);
      // The histogram suffixes only on histograms.
      for (const { panel, expr } of queries)
        for (const series of seriesOf(expr).filter(
          (name) => HISTOGRAM_SUFFIX.test(name) && !page.types.has(name),
        ))
          expect(page.types.get(series.replace(HISTOGRAM_SUFFIX, '')), `${panel}: ${series}`).to.equal(
            'histogram',
          );
    });

    it('groups and filters only by labels those series carry', () => {
      const unknown = queries.flatMap(({ panel, expr }) => {
        const carried = new Set(seriesOf(expr).flatMap((series) => [...labelNames(series)]));
        return labelsOf(expr)
          .filter((label) => !carried.has(label))
          .map((label) => `${panel}: ${label}`);
      });
      expect(unknown).to.deep.equal([]);
    });

    it('covers every tenantplane family on the page', () => {
      const read = new Set(
        queries.flatMap(({ expr }) => seriesOf(expr).map((name) => name.replace(HISTOGRAM_SUFFIX, ''))),
      );
      const unread = [...page.types.keys()].filter(
        (family) => family.startsWith('tenantplane_') && !read.has(family),
      );
      expect(unread).to.deep.equal([]);
    });
  });
});

describe('compose monitoring files', () => {
  it('point Prometheus at the API and the rules, and Grafana at the dashboards', async () => {
    const [prometheus] = (await parseYaml(path.join(INFRA, 'prometheus', 'prometheus.yml'))) as [
      { rule_files: string[]; scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }> },
    ];
    expect(prometheus.rule_files).to.deep.equal(['/etc/prometheus/alerts.yml']);
    expect(
      prometheus.scrape_configs.flatMap((job) => job.static_configs.flatMap((c) => c.targets)),
    ).to.include('api:3000');
    const [provider] = (await parseYaml(
      path.join(INFRA, 'grafana', 'provisioning', 'dashboards', 'tenantplane.yaml'),
    )) as [{ providers: Array<{ options: { path: string } }> }];
    expect(provider.providers[0]?.options.path).to.equal('/var/lib/grafana/dashboards');
    const [compose] = (await parseYaml(path.join(INFRA, 'docker-compose.yml'))) as [
      { services: Record<string, { volumes?: string[] }> },
    ];
    expect(compose.services.grafana?.volumes).to.include(
      './grafana/dashboards:/var/lib/grafana/dashboards:ro',
    );
    expect(compose.services.prometheus?.volumes).to.include(
      './prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro',
    );
  });
});
