import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { SQLSTATE } from '../src/errors/index.js';
import { type BulkLoadPath, beginBulkLoad } from '../src/provisioning/tenant-bulk-load.js';
import { expectDeleteDrainsWrite } from './support/deletion-drain.js';
import { callJson } from './support/http-client.js';
import { addManagedServer, createManagedAdmin } from './support/managed-admin.js';
import { seedTenantRows, tenantRows } from './support/tenant-rows.js';
import {
  adminQuery,
  adminUrlFor,
  copyOfTenantMigrations,
  createTestPlane,
  dropEverything,
  TEST_ACTOR,
  type TestPlane,
} from './support/test-plane.js';

/**
 * Everything an operator does, on a server registered with an admin role like managed PostgreSQL's
 * (LOGIN, CREATEDB, CREATEROLE and pg_read_all_stats; no superuser, no BYPASSRLS): tenants of both
 * placements created and served through the HTTP API, backed up and restored in place and into a new
 * tenant, moved between a shard and a dedicated database, the fleet migrated up and down, and deleted.
 * The admin role owns the tables, and their row-level security is forced, so it binds the admin too.
 */
describe('managed PostgreSQL: a server whose admin role is not a superuser', function () {
  this.timeout(60000);
  let plane: TestPlane;
  let migrationsDir: string;
  let base: string;
  let adminToken: string;
  const tokens: Record<string, string> = {};
  const databaseOf = (tenant: string) => `${plane.prefix}_t_${tenant.replaceAll('-', '_')}`;
  const shardDb = () => `${plane.prefix}_s_shard_m`;
  /** Backups taken before the fleet migration below, by tenant. */
  const earlyBackups: Record<string, string> = {};

  const admin = (method: string, route: string, body?: unknown) =>
    callJson(base, adminToken, method, route, body);
  const app = (tenant: string, method: string, route: string, body?: unknown) =>
    callJson(base, tokens[tenant], method, route, body);

  type Job = { state: string; result: Record<string, unknown>; error: unknown };

  async function finished(jobId: string): Promise<Job> {
    for (let attempt = 0; attempt < 600; attempt += 1) {
      const job = await admin('GET', `/admin/v1/jobs/${jobId}`);
      expect(job.status).to.equal(200);
      if (job.body.state === 'completed' || job.body.state === 'failed') return job.body;
      await sleep(50);
    }
    throw new Error(`job ${jobId} did not finish`);
  }

  async function completed(jobId: string): Promise<Job['result']> {
    const job = await finished(jobId);
    expect(job.state, JSON.stringify(job.error)).to.equal('completed');
    return job.result;
  }

  async function backUp(tenant: string): Promise<string> {
    const requested = await admin('POST', `/admin/v1/tenants/${tenant}/backups`, {});
    expect(requested.status, JSON.stringify(requested.body)).to.equal(202);
    expect((await completed(requested.body.job_id)).state).to.equal('complete');
    return requested.body.backup_id;
  }

  async function forcedEverywhere(database: string): Promise<boolean> {
    const { rows } = await adminQuery<{ forced: boolean }>(
      database,
      `SELECT bool_and(relrowsecurity AND relforcerowsecurity) AS forced FROM pg_class
        WHERE relname IN ('users', 'deployments', 'workflows', 'audit_events')`,
    );
    return rows[0]!.forced;
  }

  before(async () => {
    migrationsDir = await copyOfTenantMigrations();
    plane = await createTestPlane({ tenantMigrationsDir: migrationsDir }, { RATE_LIMITS: 'off' });
    await addManagedServer(plane, 'pg-managed');
    await plane.tp.shards.add({ id: 'shard-m', serverId: 'pg-managed' }, TEST_ACTOR);
    base = await plane.listen();
    adminToken = await plane.mint({ admin: true });
    for (const tenant of ['shop', 'bigshop', 'shop-copy']) {
      tokens[tenant] = await plane.mint({ tenantId: tenant });
    }
  });
  after(async () => {
    await plane?.close();
    await rm(migrationsDir, { recursive: true, force: true });
  });

  it('creates a shard tenant and an enterprise tenant, and serves each its own rows', async () => {
    for (const [id, tier] of [
      ['shop', 'starter'],
      ['bigshop', 'enterprise'],
    ] as const) {
      const created = await admin('POST', '/admin/v1/tenants', { id, tier });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      for (let n = 0; n < 5; n += 1) {
        const row = await app(id, 'POST', '/api/v1/deployments', {
          project_name: `${id}-${n}`,
          status: 'ready',
        });
        expect(row.status, JSON.stringify(row.body)).to.equal(201);
      }
      await seedTenantRows(plane.tp, id, 40, id);
      const listed = await app(id, 'GET', '/api/v1/deployments?limit=100');
      expect(listed.status).to.equal(200);
      expect(listed.body.data).to.have.length(45);
      expect(listed.body.data.every((row: { tenant_id: string }) => row.tenant_id === id)).to.equal(true);
      const shown = await admin('GET', `/admin/v1/tenants/${id}`);
      expect(shown.body.usage).to.include({ deployments: 45, workflows: 40, users: 40 });
    }
    // The dedicated database carries no setting: the router's connections bind themselves to the tenant.
    const db = await plane.tp.router.forTenant('bigshop');
    const foreign = await db
      .query("INSERT INTO deployments (tenant_id, project_name, status) VALUES ('shop', 'x', 'ready')")
      .catch((error: unknown) => error);
    expect((foreign as { code?: string }).code, 'a row of another tenant').to.equal(
      SQLSTATE.insufficientPrivilege,
    );
  });

  it('backs up both tenants and restores each in place through the admin API', async () => {
    for (const tenant of ['shop', 'bigshop']) {
      const before = await tenantRows(plane.tp, tenant);
      const backupId = await backUp(tenant);
      earlyBackups[tenant] = backupId;
      const listed = await app(tenant, 'GET', '/api/v1/deployments?limit=100');
      for (const row of listed.body.data.slice(0, 10)) {
        expect((await app(tenant, 'DELETE', `/api/v1/deployments/${row.id}`)).status).to.equal(204);
      }
      await app(tenant, 'POST', '/api/v1/workflows', { name: 'later', status: 'new' });
      expect(await tenantRows(plane.tp, tenant)).to.not.deep.equal(before);

      const restore = await admin('POST', `/admin/v1/tenants/${tenant}/restores`, { backup_id: backupId });
      expect(restore.status, JSON.stringify(restore.body)).to.equal(202);
      await completed(restore.body.job_id);
      expect(await tenantRows(plane.tp, tenant), tenant).to.deep.equal(before);
      const served = await app(tenant, 'GET', '/api/v1/deployments?limit=100');
      expect(served.body.data).to.have.length(45);
    }
    expect(await forcedEverywhere(databaseOf('bigshop')), 'row-level security forced').to.equal(true);
    expect(await forcedEverywhere(shardDb()), 'row-level security forced on the shard').to.equal(true);
  });

  it('restores a shard tenant’s backup into a new enterprise tenant', async () => {
    const restore = await admin('POST', '/admin/v1/tenants/shop/restores', {
      backup_id: earlyBackups.shop,
      into: 'shop-copy',
      tier: 'enterprise',
    });
    expect(restore.status, JSON.stringify(restore.body)).to.equal(202);
    await completed(restore.body.job_id);
    expect(await tenantRows(plane.tp, 'shop-copy')).to.deep.equal(await tenantRows(plane.tp, 'shop'));
    const served = await app('shop-copy', 'GET', '/api/v1/deployments?limit=100');
    expect(served.body.data).to.have.length(45);
  });

  it('migrates the fleet up, a dedicated database’s migration seeing its tenant’s rows, and an older backup forward', async () => {
    await writeFile(
      path.join(migrationsDir, '0003_deployment_region.sql'),
      "ALTER TABLE deployments ADD COLUMN region text;\nUPDATE deployments SET region = 'eu-' || tenant_id;",
    );
    await writeFile(
      path.join(migrationsDir, '0003_deployment_region.down.sql'),
      'ALTER TABLE deployments DROP COLUMN region;',
    );
    const run = await (await plane.tp.fleetRunner()).run({ direction: 'up', actor: 'test' });
    expect(run.status, JSON.stringify(run)).to.equal('succeeded');
    const regions = await adminQuery<{ region: string | null; n: number }>(
      databaseOf('bigshop'),
      'SELECT region, count(*)::int AS n FROM deployments GROUP BY region',
    );
    expect(regions.rows).to.deep.equal([{ region: 'eu-bigshop', n: 45 }]);

    // The backup predates 0003: it is loaded into a scratch database at its schema and migrated forward
    // there, as its tenant, so the backfill reaches its rows too.
    const restore = await admin('POST', '/admin/v1/tenants/bigshop/restores', {
      backup_id: earlyBackups.bigshop,
    });
    expect(restore.status).to.equal(202);
    expect((await completed(restore.body.job_id)).migrated_forward).to.equal(true);
    const restored = await adminQuery<{ region: string | null; n: number }>(
      databaseOf('bigshop'),
      'SELECT region, count(*)::int AS n FROM deployments GROUP BY region',
    );
    expect(restored.rows).to.deep.equal([{ region: 'eu-bigshop', n: 45 }]);
    expect(await forcedEverywhere(databaseOf('bigshop'))).to.equal(true);
  });

  it('moves a shard tenant to its own database and back, keeping every row', async () => {
    const before = await tenantRows(plane.tp, 'shop');
    for (const [tier, kind] of [
      ['enterprise', 'dedicated'],
      ['starter', 'shard'],
    ] as const) {
      const move = await admin('PATCH', '/admin/v1/tenants/shop', { tier });
      expect(move.status, JSON.stringify(move.body)).to.equal(202);
      const result = await completed(move.body.job_id);
      expect(result).to.include({ moved: true, rows_copied: 165 });
      const tenant = await admin('GET', '/admin/v1/tenants/shop');
      expect(tenant.body.placement.kind).to.equal(kind);
      expect(await tenantRows(plane.tp, 'shop'), `rows after the move to ${kind}`).to.deep.equal(before);
      expect((await app('shop', 'GET', '/api/v1/deployments?limit=100')).body.data).to.have.length(45);
      if (kind === 'dedicated') expect(await forcedEverywhere(databaseOf('shop'))).to.equal(true);
    }
    const left = await adminQuery('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [
      databaseOf('shop'),
    ]);
    expect(left.rowCount, 'the dedicated database, dropped after the move back').to.equal(0);
  });

  it('migrates the fleet down', async () => {
    const run = await (await plane.tp.fleetRunner()).run({
      direction: 'down',
      to: '0002_row_level_security',
      actor: 'test',
    });
    expect(run.status, JSON.stringify(run)).to.equal('succeeded');
    for (const database of [shardDb(), databaseOf('bigshop'), databaseOf('shop-copy')]) {
      const column = await adminQuery(
        database,
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'deployments' AND column_name = 'region'",
      );
      expect(column.rowCount, database).to.equal(0);
    }
  });

  it('drains a write that passed its check before a shard tenant was deleted, so no row of it survives', () =>
    expectDeleteDrainsWrite(plane, 'late-writer'));

  it('deletes tenants, dropping a dedicated database the router still holds connections to', async () => {
    expect((await app('bigshop', 'GET', '/api/v1/deployments')).status).to.equal(200);
    for (const tenant of ['bigshop', 'shop-copy', 'shop']) {
      const deleted = await admin('DELETE', `/admin/v1/tenants/${tenant}`);
      expect(deleted.status, JSON.stringify(deleted.body)).to.equal(200);
    }
    const left = await adminQuery('postgres', 'SELECT datname FROM pg_database WHERE datname LIKE $1', [
      `${plane.prefix}\\_t\\_%`,
    ]);
    expect(left.rows).to.deep.equal([]);
    const rows = await adminQuery(shardDb(), 'SELECT count(*)::int AS n FROM deployments');
    expect(rows.rows[0]!.n).to.equal(0);
  });
});

describe('bulk loads into tables with forced row-level security', () => {
  const prefix = `t${randomBytes(4).toString('hex')}`;
  const database = `${prefix}_bulk`;
  const clients: Record<'superuser' | 'managed', pg.Client> = {} as never;

  /** One load of `rows` (COPY text lines) as `tenant`, in a transaction that commits only if it all worked. */
  async function load(
    who: 'superuser' | 'managed',
    tenant: string,
    exclusive: boolean,
    rows: string[],
  ): Promise<BulkLoadPath> {
    const client = clients[who];
    await client.query('BEGIN');
    try {
      await client.query("SELECT set_config('tenantplane.tenant_id', $1, true)", [tenant]);
      const bulk = await beginBulkLoad(client, {
        table: 'notes',
        columns: '"id", "tenant_id", "body"',
        tenantId: tenant,
        exclusive,
      });
      const copy = client.query(copyFrom(`COPY ${bulk.copyInto} FROM STDIN`));
      await pipeline(Readable.from(rows.map((row) => `${row}\n`)), copy);
      await bulk.finish();
      await client.query('COMMIT');
      return bulk.path;
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
  }

  const forced = async () =>
    (await adminQuery(database, "SELECT relforcerowsecurity AS f FROM pg_class WHERE relname = 'notes'"))
      .rows[0]!.f;
  const stored = async () =>
    (await adminQuery(database, 'SELECT tenant_id, count(*)::int AS n FROM notes GROUP BY 1 ORDER BY 1'))
      .rows;

  before(async () => {
    const managedUrl = new URL(await createManagedAdmin(prefix));
    const server = new pg.Client({ connectionString: managedUrl.toString() });
    await server.connect();
    await server.query(`CREATE DATABASE "${database}"`);
    await server.end();
    managedUrl.pathname = `/${database}`;
    clients.managed = new pg.Client({ connectionString: managedUrl.toString() });
    clients.superuser = new pg.Client({ connectionString: adminUrlFor(database) });
    for (const client of Object.values(clients)) await client.connect();
    // Owned by the managed admin, as a tenant table is.
    await clients.managed.query(
      `CREATE TABLE notes (id int PRIMARY KEY, tenant_id text NOT NULL, body text NOT NULL);
       ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
       ALTER TABLE notes FORCE ROW LEVEL SECURITY;
       CREATE POLICY tenant_isolation ON notes
         USING (tenant_id = current_setting('tenantplane.tenant_id', true))
         WITH CHECK (tenant_id = current_setting('tenantplane.tenant_id', true));`,
    );
  });
  after(async () => {
    for (const client of Object.values(clients)) await client.end();
    await dropEverything(prefix);
  });

  it('loads straight in for a superuser, staged on a shard, and with FORCE lifted only inside a dedicated load', async () => {
    expect(await load('superuser', 'acme', false, ['1\tacme\ta'])).to.equal('direct');
    expect(await load('managed', 'acme', false, ['2\tacme\tb', '3\tacme\tc'])).to.equal('staged');
    expect(await load('managed', 'acme', true, ['4\tacme\td'])).to.equal('unforced');
    expect(await forced()).to.equal(true);
    expect(await stored()).to.deep.equal([{ tenant_id: 'acme', n: 4 }]);
  });

  it('refuses a row of another tenant either way, keeping nothing and leaving FORCE on', async () => {
    for (const exclusive of [false, true]) {
      const error = await load('managed', 'acme', exclusive, ['10\tacme\tok', '11\tglobex\tnot ours']).catch(
        (failure: unknown) => failure,
      );
      expect((error as { code?: string }).code, `exclusive: ${exclusive}`).to.equal(
        SQLSTATE.insufficientPrivilege,
      );
      expect(await forced()).to.equal(true);
      expect(await stored()).to.deep.equal([{ tenant_id: 'acme', n: 4 }]);
    }
  });
});
