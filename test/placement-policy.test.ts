import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { DatabaseRecord } from '../src/catalog/records.js';
import { recordedBytesOn } from '../src/catalog/tenant-sizes.js';
import { ConflictError, InvalidInputError } from '../src/errors/index.js';
import { dedicatedDatabaseName, shardDatabaseName } from '../src/ids.js';
import { planShardRebalance } from '../src/placement/shard-rebalance.js';
import { rejection } from './support/async-helpers.js';
import { callJson } from './support/http-client.js';
import { createManagedAdmin } from './support/managed-admin.js';
import { runTenantctl } from './support/tenantctl.js';
import { createTestCluster, type TestCluster } from './support/test-cluster.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

/** The second server's admin: no superuser, as on managed PostgreSQL. */
const ADMIN = 'tp_admin';

/**
 * Two PostgreSQL servers, each registered through an admin role without superuser: `pg-eu` (the test
 * PostgreSQL, region eu) and `pg-us` (a cluster of the test's own, region us), with a shard on each.
 */
describe('placement: regions and draining servers', function () {
  this.timeout(90000);
  let cluster: TestCluster;
  let plane: TestPlane;
  let base: string;
  let adminToken: string;
  const adminPassword = randomBytes(12).toString('hex');
  const tenantctl = (...args: string[]) => runTenantctl(plane.cliEnv(), ...args);
  let created = 0;

  /** Creates a starter (or `tier`) tenant with a fresh id; answers its database id. */
  async function createTenant(region: string | null, tier = 'starter'): Promise<string> {
    created += 1;
    const tenant = await plane.tp.tenants.create(
      { id: `tenant-${String(created).padStart(3, '0')}`, tier, region },
      TEST_ACTOR,
    );
    return tenant.databaseId!;
  }

  async function shardTenants(): Promise<Record<string, number>> {
    const loads = await plane.tp.catalog.shardLoads();
    return Object.fromEntries(loads.map((shard) => [shard.id, shard.tenants]));
  }

  const database = async (id: string): Promise<DatabaseRecord> =>
    (await plane.tp.catalog.getDatabase(id)) as DatabaseRecord;

  before(async () => {
    cluster = await createTestCluster();
    await cluster.query(
      'postgres',
      `CREATE ROLE ${ADMIN} LOGIN CREATEDB CREATEROLE NOSUPERUSER PASSWORD '${adminPassword}' IN ROLE pg_read_all_stats`,
    );
    plane = await createTestPlane();
    base = await plane.listen();
    adminToken = await plane.mint({ admin: true });
    const euAdmin = await createManagedAdmin(plane.prefix, 'admin_eu');
    await plane.tp.servers.add(
      { id: 'pg-eu', adminUrl: euAdmin, maxConnections: 20, region: 'eu' },
      TEST_ACTOR,
    );
    await plane.tp.servers.add(
      { id: 'pg-us', adminUrl: cluster.url(ADMIN, adminPassword), maxConnections: 20, region: 'us' },
      TEST_ACTOR,
    );
    await plane.tp.shards.add({ id: 'shard-eu', serverId: 'pg-eu' }, TEST_ACTOR);
    await plane.tp.shards.add({ id: 'shard-us', serverId: 'pg-us' }, TEST_ACTOR);
  });
  after(async () => {
    await plane?.close();
    await cluster?.drop();
  });
  afterEach(async () => {
    // Every test starts with both servers taking placements.
    for (const id of ['pg-eu', 'pg-us']) await plane.tp.catalog.setServerDraining(id, false, TEST_ACTOR);
  });

  it('places a pinned tenant only on servers of its region, on a shard or in a dedicated database', async () => {
    // shard-eu has fewer tenants all along: only the region keeps the us tenants off it.
    for (let i = 0; i < 3; i++) expect(await createTenant('us')).to.equal('shard-us');
    expect(await createTenant('eu')).to.equal('shard-eu');
    expect((await shardTenants())['shard-eu']).to.be.below((await shardTenants())['shard-us']!);
    // Unpinned: any region, the fewest tenants.
    expect(await createTenant(null)).to.equal('shard-eu');

    const enterprise = await plane.tp.tenants.create(
      { id: 'big-us', tier: 'enterprise', region: 'us' },
      TEST_ACTOR,
    );
    expect(enterprise.region).to.equal('us');
    expect((await database(enterprise.databaseId!)).serverId).to.equal('pg-us');
    const name = dedicatedDatabaseName(plane.prefix, 'big-us');
    const onCluster = await cluster.query('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    expect(onCluster.rowCount, 'the dedicated database is on the us server').to.equal(1);
    const view = await callJson(base, adminToken, 'GET', '/admin/v1/tenants/big-us');
    expect(view.body).to.include({ region: 'us' });
    expect(view.body.placement).to.include({ server_id: 'pg-us' });
  });

  it('gives a draining server no new tenant, and undrain (CLI and HTTP) lets it take them again', async () => {
    const drained = await plane.tp.catalog.setServerDraining('pg-us', true, TEST_ACTOR);
    expect(drained).to.include({ id: 'pg-us', draining: true, region: 'us' });

    const shard = await rejection(
      plane.tp.tenants.create({ id: 'late-us', tier: 'pro', region: 'us' }, TEST_ACTOR),
    );
    expect(shard).to.be.instanceOf(ConflictError).and.include({ code: 'no_shard', status: 409 });
    expect((shard as Error).message).to.contain('region us');
    const dedicated = await rejection(
      plane.tp.tenants.create({ id: 'late-big-us', tier: 'enterprise', region: 'us' }, TEST_ACTOR),
    );
    expect(dedicated).to.include({ code: 'no_server', status: 409 });
    expect((dedicated as Error).message).to.contain('region us');
    expect(await plane.tp.catalog.getTenant('late-us'), 'a refused create leaves no tenant').to.equal(
      undefined,
    );
    // An unpinned tenant goes to the other region rather than to the drained server, though that has more.
    while ((await shardTenants())['shard-eu']! <= (await shardTenants())['shard-us']!)
      await createTenant('eu');
    const before = await shardTenants();
    for (let i = 0; i < 3; i++) expect(await createTenant(null)).to.equal('shard-eu');
    expect((await shardTenants())['shard-eu']).to.equal(before['shard-eu']! + 3);

    const undrain = await tenantctl('servers', 'undrain', 'pg-us', '--json');
    expect(undrain.code, undrain.stderr).to.equal(0);
    expect(JSON.parse(undrain.stdout)).to.include({ id: 'pg-us', draining: false });
    expect(await createTenant('us', 'pro')).to.equal('shard-us');

    await plane.tp.catalog.setServerDraining('pg-us', true, TEST_ACTOR);
    const http = await callJson(base, adminToken, 'POST', '/admin/v1/servers/pg-us/undrain');
    expect(http.status).to.equal(200);
    expect(http.body).to.include({ id: 'pg-us', region: 'us', draining: false });
    expect(await createTenant('us')).to.equal('shard-us');
    const missing = await callJson(base, adminToken, 'POST', '/admin/v1/servers/pg-mars/undrain');
    expect([missing.status, missing.body.error.code]).to.deep.equal([404, 'server_not_found']);

    const audit = await plane.tp.catalog.listAudit({ limit: 50 });
    const actions = audit
      .filter((entry) => entry.details.server === 'pg-us' && entry.action.endsWith('drain'))
      .map((entry) => entry.action)
      .reverse();
    expect(actions).to.deep.equal(['server.drain', 'server.undrain', 'server.drain', 'server.undrain']);
  });

  it('allows a pinned tenant only into databases of its region, and nothing onto a draining server', async () => {
    const policy = plane.tp.placement;
    const [shardEu, shardUs] = [await database('shard-eu'), await database('shard-us')];
    const pinned = { id: 'pinned-eu', region: 'eu' };
    await policy.assertAllowed(pinned, shardEu);
    const mismatch = await rejection(policy.assertAllowed(pinned, shardUs));
    expect(mismatch)
      .to.be.instanceOf(InvalidInputError)
      .and.include({ code: 'region_mismatch', status: 400 });
    expect((mismatch as Error).message)
      .to.contain('region eu')
      .and.contain('pg-us');
    // Unpinned: any region.
    await policy.assertAllowed({ id: 'anywhere', region: null }, shardUs);

    await plane.tp.catalog.setServerDraining('pg-eu', true, TEST_ACTOR);
    const draining = await rejection(policy.assertAllowed(pinned, shardEu));
    expect(draining).to.be.instanceOf(ConflictError).and.include({ code: 'server_draining', status: 409 });
    expect(await rejection(policy.assertAllowed({ id: 'anywhere', region: null }, shardEu))).to.include({
      code: 'server_draining',
    });
  });

  it('refuses an unknown or malformed region with 400 (exit 2), and lists servers with region and draining', async () => {
    const unknown = await callJson(base, adminToken, 'POST', '/admin/v1/tenants', {
      id: 'mars-co',
      tier: 'starter',
      region: 'mars',
    });
    expect([unknown.status, unknown.body.error.code]).to.deep.equal([400, 'unknown_region']);
    const malformed = await callJson(base, adminToken, 'POST', '/admin/v1/tenants', {
      id: 'mars-co',
      tier: 'starter',
      region: 'Mars!',
    });
    expect([malformed.status, malformed.body.error.code]).to.deep.equal([400, 'invalid_region']);
    const pinned = await callJson(base, adminToken, 'POST', '/admin/v1/tenants', {
      id: 'http-eu',
      tier: 'starter',
      region: 'eu',
    });
    expect(pinned.status, JSON.stringify(pinned.body)).to.equal(201);
    expect(pinned.body).to.include({ region: 'eu' });
    expect(pinned.body.placement).to.include({ database_id: 'shard-eu' });
    expect(await plane.tp.catalog.getTenant('mars-co')).to.equal(undefined);

    const cli = await tenantctl('tenants', 'create', 'mars-cli', '--tier', 'starter', '--region', 'mars');
    expect(cli.code, cli.stderr).to.equal(2);
    expect(cli.stderr).to.contain('unknown_region');

    // A region of its own, with no shard there yet: known, so refused as no room (exit 1), not as input.
    const apAdmin = await createManagedAdmin(plane.prefix, 'admin_ap');
    const add = await tenantctl('servers', 'add', 'pg-ap', '--url', apAdmin, '--region', 'ap', '--json');
    expect(add.code, add.stderr).to.equal(0);
    expect(JSON.parse(add.stdout)).to.include({ id: 'pg-ap', region: 'ap', draining: false });
    const full = await tenantctl('tenants', 'create', 'ap-co', '--tier', 'starter', '--region', 'ap');
    expect(full.code, full.stderr).to.equal(1);
    expect(full.stderr).to.contain('no_shard').and.contain('region ap');

    await plane.tp.catalog.setServerDraining('pg-us', true, TEST_ACTOR);
    const list = await tenantctl('servers', 'list', '--json');
    expect(list.code, list.stderr).to.equal(0);
    const servers = (JSON.parse(list.stdout) as Array<{ id: string; region: string; draining: boolean }>)
      .map(({ id, region, draining }) => ({ id, region, draining }))
      .sort((a, b) => a.id.localeCompare(b.id));
    expect(servers).to.deep.equal([
      { id: 'pg-ap', region: 'ap', draining: false },
      { id: 'pg-eu', region: 'eu', draining: false },
      { id: 'pg-us', region: 'us', draining: true },
    ]);
    const text = await tenantctl('servers', 'list');
    expect(text.stdout).to.match(/^ID\s+HOST\s+REGION\s+DRAINING/m);
    expect(text.stdout).to.match(/^pg-us\s+\S+\s+us\s+yes/m);
  });

  it('puts an unpinned tenant on the shard whose tenants have the fewest bytes, as the last rebalance dry run measured them', async () => {
    const control = `${plane.prefix}_control`;
    const recorded = async (): Promise<Record<string, { database_id: string; bytes: number }>> => {
      const { rows } = await adminQuery(control, 'SELECT tenant_id, database_id, bytes FROM tenant_sizes');
      return Object.fromEntries(
        rows.map((row) => [row.tenant_id, { database_id: row.database_id, bytes: Number(row.bytes) }]),
      );
    };
    const fill = (shard: string, tenantId: string, rows: number) =>
      (shard === 'shard-eu' ? adminQuery : cluster.query.bind(cluster))(
        shardDatabaseName(plane.prefix, shard),
        `INSERT INTO deployments (tenant_id, project_name, status)
           SELECT $1, 'seed-' || n, 'ready' FROM generate_series(1, $2::int) n`,
        [tenantId, rows],
      );
    const next = (options: { excludeDatabaseId?: string } = {}) =>
      plane.tp.placement.shardFor({ id: 'next', region: null }, options);
    const create = async (id: string, region: string | null) =>
      (await plane.tp.tenants.create({ id, tier: 'starter', region }, TEST_ACTOR)).databaseId;

    // heavy (unpinned, so it may move to us later) and medium have rows on shard-eu, light fewer on shard-us.
    while ((await shardTenants())['shard-eu']! > (await shardTenants())['shard-us']!)
      await createTenant('us');
    expect(await create('heavy', null), 'a tie in tenants goes to the first id').to.equal('shard-eu');
    expect(await create('medium', 'eu')).to.equal('shard-eu');
    expect(await create('light', 'us')).to.equal('shard-us');
    await fill('shard-eu', 'heavy', 3000);
    await fill('shard-eu', 'medium', 1000);
    await fill('shard-us', 'light', 200);
    // shard-us has more tenants, shard-eu more bytes: the measure and the count point different ways.
    while ((await shardTenants())['shard-us']! <= (await shardTenants())['shard-eu']!)
      await createTenant('us');
    expect(await recorded(), 'nothing measured yet').to.deep.equal({});
    expect(await next(), 'without measurements, the fewest tenants').to.equal('shard-eu');

    // A dry run measures every shard tenant, records the sizes, and moves nothing.
    await planShardRebalance(plane.tp.catalog, {});
    const sizes = await recorded();
    expect(sizes.heavy).to.include({ database_id: 'shard-eu' });
    expect(sizes.medium).to.include({ database_id: 'shard-eu' });
    expect(sizes.light).to.include({ database_id: 'shard-us' });
    expect(sizes.heavy!.bytes).to.be.above(sizes.medium!.bytes);
    expect(sizes.medium!.bytes).to.be.above(sizes.light!.bytes);
    expect(sizes.light!.bytes).to.be.above(0);
    expect(await plane.tp.catalog.requireTenant('heavy')).to.include({ databaseId: 'shard-eu' });

    // shard-us: fewer bytes, though more tenants.
    expect(await next()).to.equal('shard-us');
    expect(await next({ excludeDatabaseId: 'shard-us' })).to.equal('shard-eu');
    expect(await createTenant(null), 'tenant creation places by the same measure').to.equal('shard-us');
    // Placement reads the catalog only: with pg-us's admin unable to sign in, the bytes still decide.
    await cluster.query('postgres', `ALTER ROLE ${ADMIN} NOLOGIN`);
    try {
      expect(await next()).to.equal('shard-us');
    } finally {
      await cluster.query('postgres', `ALTER ROLE ${ADMIN} LOGIN`);
    }

    // heavy moves to shard-us some other way than a rebalance: its size, recorded on shard-eu, counts for
    // neither shard (shard-us: light's bytes, below medium's on shard-eu) until it is measured there.
    const moved = await plane.tp.mover.move('heavy', { shard: 'shard-us' }, TEST_ACTOR);
    expect(moved.moved).to.equal(true);
    expect((await recorded()).heavy).to.include({ database_id: 'shard-eu' });
    expect(await recordedBytesOn(plane.tp.catalog.knex, ['shard-eu', 'shard-us'])).to.deep.equal(
      new Map([
        ['shard-eu', sizes.medium!.bytes],
        ['shard-us', sizes.light!.bytes],
      ]),
    );
    expect(await next()).to.equal('shard-us');
    // Measured again where it is now, it counts for shard-us.
    await planShardRebalance(plane.tp.catalog, {});
    expect((await recorded()).heavy).to.deep.equal({ database_id: 'shard-us', bytes: sizes.heavy!.bytes });
    expect(await next()).to.equal('shard-eu');

    // New tenants weigh the mean measured size until measured: a burst fills shard-eu up to shard-us's
    // bytes and then spreads, rather than all landing on the shard that looked emptiest.
    const burst: string[] = [];
    for (let created = 0; created < 30 && !burst.includes('shard-us'); created += 1) {
      burst.push((await createTenant(null))!);
    }
    expect(burst, 'a burst of new tenants reaches the fuller shard in time').to.include('shard-us');
    expect(burst[0]).to.equal('shard-eu');
  });
});
