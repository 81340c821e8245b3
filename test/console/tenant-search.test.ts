import { expect } from 'chai';
import { callJson } from '../support/http-client.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from '../support/test-plane.js';
import { seedCatalogTenants } from './seed-tenants.js';

/** GET /admin/v1/tenants with the console's search and filters, over 2,000 catalog rows. */
describe('tenant list: search, filters and cursor pages', function () {
  this.timeout(60000);
  let plane: TestPlane;
  let base: string;
  let token: string;

  const list = (query: string) => callJson(base, token, 'GET', `/admin/v1/tenants?${query}`);
  /** Every id the filtered list holds, read page by page through next_cursor. */
  async function allIds(query: string, limit: number): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await list(`${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status, JSON.stringify(page.body)).to.equal(200);
      ids.push(...page.body.data.map((tenant: { id: string }) => tenant.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    return ids;
  }

  before(async () => {
    plane = await createTestPlane();
    await plane.addServer('pg-main');
    await plane.tp.shards.add({ id: 'shard-a', serverId: 'pg-main' }, TEST_ACTOR);
    await seedCatalogTenants(plane.tp.catalog.knex, {
      count: 2000,
      prefix: 'cust',
      databaseId: 'shard-a',
      region: 'eu',
    });
    base = await plane.listen();
    token = await plane.mint({ admin: true });
  });
  after(async () => plane.close());

  it('finds a tenant by the start of its id and by part of its name, in any case', async () => {
    const byId = await list('q=cust-0123');
    expect(byId.body.data.map((tenant: { id: string }) => tenant.id)).to.deep.equal(
      Array.from({ length: 10 }, (_, digit) => `cust-0123${digit}`),
    );
    const byName = await list('q=CUSTOMER%201999');
    expect(byName.body.data).to.have.length(1);
    expect(byName.body.data[0]).to.include({ id: 'cust-01999', name: 'Customer 1999' });
    expect(byName.body.data[0].placement).to.include({ database_id: 'shard-a', server_id: 'pg-main' });
  });

  it('takes LIKE wildcards in the search text literally', async () => {
    expect((await list('q=cust_0')).body.data).to.deep.equal([]);
    expect((await list('q=%25')).body.data).to.deep.equal([]);
  });

  it('combines tier, status, server and region, and pages through every match once', async () => {
    const ids = await allIds('tier=pro&status=suspended&server=pg-main&region=eu', 7);
    // n even (pro), n % 7 = 0 (suspended), n % 5 = 0 (eu): every multiple of 70 up to 2000.
    const expected = Array.from(
      { length: 28 },
      (_, index) => `cust-${String((index + 1) * 70).padStart(5, '0')}`,
    );
    expect(ids).to.deep.equal(expected);
    expect((await list('server=pg-other')).body.data).to.deep.equal([]);
  });

  it('refuses bad filters with 400 before any SQL', async () => {
    const cases: Array<[string, string]> = [
      ['status=deleted', 'invalid_query'],
      ['status=active&status=suspended', 'invalid_query'],
      ['tier=Pro!', 'invalid_query'],
      ['q=%00', 'invalid_query'],
      [`q=${'x'.repeat(101)}`, 'invalid_query'],
      ['server=..', 'invalid_id'],
      ['region=EU', 'invalid_region'],
    ];
    for (const [query, code] of cases) {
      const answer = await list(query);
      expect(answer.status, query).to.equal(400);
      expect(answer.body.error.code, query).to.equal(code);
    }
  });
});
