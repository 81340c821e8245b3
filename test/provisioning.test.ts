import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import pg from 'pg';
import { dedicatedDatabaseId } from '../src/catalog/records.js';
import { InvalidInputError, SQLSTATE } from '../src/errors/index.js';
import type { Tenantplane } from '../src/tenantplane.js';
import { ADMIN_KINDS } from './support/managed-admin.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

async function databaseExists(name: string): Promise<boolean> {
  const result = await adminQuery('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return result.rowCount === 1;
}

/** One statement as the server's admin role (not the test's superuser), on a connection of its own. */
async function asAdmin(adminUrl: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

for (const admin of ADMIN_KINDS) {
  describe(`provisioning with a ${admin.name}`, () => {
    let plane: TestPlane<Tenantplane>;
    let adminUrl: URL;

    before(async () => {
      plane = await createTestPlane({ serveTraffic: false });
      adminUrl = new URL(await admin.register(plane));
      await plane.tp.shards.add({ id: 'shard-a', serverId: 'pg-main' }, TEST_ACTOR);
      await plane.tp.shards.add({ id: 'shard-b', serverId: 'pg-main' }, TEST_ACTOR);
    });
    after(async () => plane.close());

    it('registers a server with a non-owner application role that cannot bypass row-level security', async () => {
      const role = `${plane.prefix}_app_pg_main`;
      const result = await adminQuery<{ rolsuper: boolean; rolbypassrls: boolean; rolcreatedb: boolean }>(
        'postgres',
        'SELECT rolsuper, rolbypassrls, rolcreatedb FROM pg_roles WHERE rolname = $1',
        [role],
      );
      expect(result.rows).to.deep.equal([{ rolsuper: false, rolbypassrls: false, rolcreatedb: false }]);
    });

    it('keeps connection secrets sealed in the catalog', async () => {
      const credentials = await plane.tp.catalog.serverAppCredentials('pg-main');
      const rows = await plane.tp.knex('servers').select('*');
      const dump = JSON.stringify(rows);
      expect(dump).not.to.include(credentials.password);
      const userinfo = `${adminUrl.username}${adminUrl.password ? `:${adminUrl.password}` : ''}@`;
      expect(dump).not.to.include(`${userinfo}127.0.0.1`);
      if (adminUrl.password) expect(dump).not.to.include(adminUrl.password);
      expect(await plane.tp.catalog.serverAdminUrl('pg-main')).to.satisfy((url: string) =>
        url.startsWith(`postgres://${userinfo}127.0.0.1`),
      );
    });

    it('creates and migrates each shard with forced row-level security', async () => {
      const shard = `${plane.prefix}_s_shard_a`;
      expect(await databaseExists(shard)).to.equal(true);
      const tables = await adminQuery<{
        relname: string;
        relrowsecurity: boolean;
        relforcerowsecurity: boolean;
        owner: string;
      }>(
        shard,
        `SELECT relname, relrowsecurity, relforcerowsecurity, pg_get_userbyid(relowner) AS owner FROM pg_class
        WHERE relname IN ('users', 'deployments', 'workflows', 'audit_events') ORDER BY relname`,
      );
      expect(tables.rows).to.have.length(4);
      for (const table of tables.rows) {
        expect([table.relrowsecurity, table.relforcerowsecurity]).to.deep.equal([true, true]);
        // Forced: the owner, the server's admin role, is bound by the policies too unless it is a superuser.
        expect(table.owner).to.equal(decodeURIComponent(adminUrl.username));
      }
      const ledger = await adminQuery(shard, 'SELECT name FROM tenantplane.schema_migrations ORDER BY name');
      expect(ledger.rows.map((row) => row.name)).to.deep.equal([
        '0001_application_tables',
        '0002_row_level_security',
      ]);
    });

    it('puts starter and pro tenants on the least-loaded shard', async () => {
      const first = await plane.tp.tenants.create({ id: 'acme-starter', tier: 'starter' }, TEST_ACTOR);
      const second = await plane.tp.tenants.create({ id: 'beta-pro', tier: 'pro' }, TEST_ACTOR);
      expect(first.status).to.equal('active');
      expect([first.databaseId, second.databaseId].sort()).to.deep.equal(['shard-a', 'shard-b']);
    });

    it('gives an enterprise tenant its own migrated database, whose router connections act as the tenant', async () => {
      const tenant = await plane.tp.tenants.create(
        { id: 'big-corp', tier: 'enterprise', name: 'Big Corp' },
        TEST_ACTOR,
      );
      expect(tenant).to.include({
        status: 'active',
        databaseId: dedicatedDatabaseId('big-corp'),
        name: 'Big Corp',
      });
      const name = `${plane.prefix}_t_big_corp`;
      expect(await databaseExists(name)).to.equal(true);
      const ledger = await adminQuery(name, 'SELECT count(*)::int AS n FROM tenantplane.schema_migrations');
      expect(ledger.rows[0]!.n).to.equal(2);
      // No per-database setting (ALTER DATABASE … SET needs a superuser): each connection carries the tenant.
      const settings = await adminQuery(
        'postgres',
        'SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1',
        [name],
      );
      expect(settings.rowCount).to.equal(0);
      const served = await plane.openAnother({ serveTraffic: true });
      const db = await served.router!.forTenant('big-corp');
      const setting = await db.query("SELECT current_setting('tenantplane.tenant_id') AS tenant");
      expect(setting.rows[0]!.tenant).to.equal('big-corp');
      await db.query(
        "INSERT INTO deployments (tenant_id, project_name, status) VALUES ('big-corp', 'p', 'ready')",
      );
      const seen = await db.query('SELECT tenant_id FROM deployments');
      expect(seen.rows).to.deep.equal([{ tenant_id: 'big-corp' }]);
      const foreign = await db
        .query(
          "INSERT INTO deployments (tenant_id, project_name, status) VALUES ('acme-starter', 'p', 'ready')",
        )
        .catch((error: unknown) => error);
      expect((foreign as { code?: string }).code).to.equal(SQLSTATE.insufficientPrivilege);
    });

    it('refuses to create a tenant twice', async () => {
      try {
        await plane.tp.tenants.create({ id: 'big-corp', tier: 'enterprise' }, TEST_ACTOR);
        expect.fail('second create succeeded');
      } catch (error) {
        expect((error as { code: string }).code).to.equal('tenant_exists');
      }
    });

    it('finishes a create that died halfway when it is re-run', async () => {
      const { catalog } = plane.tp;
      // State left by a process killed after creating the database but before migrating it.
      await catalog.insertTenant({ id: 'half-made', name: 'half-made', tier: 'enterprise' });
      await catalog.insertDatabase({
        id: dedicatedDatabaseId('half-made'),
        kind: 'dedicated',
        serverId: 'pg-main',
        databaseName: `${plane.prefix}_t_half_made`,
      });
      // Made by the server's admin role, as the killed create would have made it.
      await asAdmin(adminUrl.toString(), `CREATE DATABASE "${plane.prefix}_t_half_made"`);

      const tenant = await plane.tp.tenants.create({ id: 'half-made', tier: 'enterprise' }, TEST_ACTOR);
      expect(tenant.status).to.equal('active');
      expect((await catalog.getDatabase(dedicatedDatabaseId('half-made')))?.status).to.equal('ready');
      const tables = await adminQuery(
        `${plane.prefix}_t_half_made`,
        "SELECT to_regclass('public.deployments') AS t",
      );
      expect(tables.rows[0]!.t).to.equal('deployments');
    });

    it('leaves no database and no catalog rows behind when a create fails', async () => {
      const broken = await mkdtemp(path.join(os.tmpdir(), 'broken-migrations-'));
      await writeFile(path.join(broken, '0001_ok.sql'), 'CREATE TABLE deployments (id int, tenant_id text);');
      await writeFile(path.join(broken, '0002_broken.sql'), 'CREATE TABLE oops (;');
      const another = await plane.openAnother({ serveTraffic: false, tenantMigrationsDir: broken });
      let failure: unknown;
      try {
        await another.tenants.create({ id: 'doomed', tier: 'enterprise' }, TEST_ACTOR);
      } catch (error) {
        failure = error;
      }
      expect(failure, 'create should fail').to.be.instanceOf(Error);
      expect(await databaseExists(`${plane.prefix}_t_doomed`)).to.equal(false);
      expect(await plane.tp.catalog.getTenant('doomed')).to.equal(undefined);
      expect(await plane.tp.catalog.getDatabase(dedicatedDatabaseId('doomed'))).to.equal(undefined);
    });

    it('rejects invalid tenant ids before any SQL runs', async () => {
      const longA = `a${'b'.repeat(39)}x`; // 41 characters
      const longB = `a${'b'.repeat(39)}y`; // equal to longA once truncated to 40
      for (const id of [
        "o'brien",
        'acme;drop',
        'acme"',
        'ünïcode',
        'Upper',
        'ab',
        'trailing-',
        longA,
        longB,
        '',
      ]) {
        try {
          await plane.tp.tenants.create({ id, tier: 'starter' }, TEST_ACTOR);
          expect.fail(`accepted ${id}`);
        } catch (error) {
          expect(error, id).to.be.instanceOf(InvalidInputError);
        }
      }
      const count = await plane.tp.knex('tenants').count<{ count: string }[]>('* as count');
      expect(Number(count[0]!.count)).to.equal(4);
    });

    it('deletes a shard tenant’s rows only after confirmation, keeping its neighbours', async () => {
      const shard = `${plane.prefix}_s_shard_a`;
      const onShardA =
        (await plane.tp.catalog.getTenant('acme-starter'))!.databaseId === 'shard-a'
          ? 'acme-starter'
          : 'beta-pro';
      await plane.tp.tenants.create({ id: 'neighbour', tier: 'starter' }, TEST_ACTOR);
      const neighbourShard = (await plane.tp.catalog.getTenant('neighbour'))!.databaseId;
      const neighbourDb = `${plane.prefix}_s_${neighbourShard!.replace('-', '_')}`;
      for (const [database, tenant] of [
        [shard, onShardA],
        [neighbourDb, 'neighbour'],
      ] as const) {
        await adminQuery(
          database,
          `INSERT INTO deployments (tenant_id, project_name, status) VALUES ($1, 'p', 'ready'), ($1, 'q', 'ready')`,
          [tenant],
        );
      }
      try {
        await plane.tp.tenants.delete({ id: onShardA, confirm: 'wrong' }, TEST_ACTOR);
        expect.fail('delete without confirmation succeeded');
      } catch (error) {
        expect((error as { code: string }).code).to.equal('confirmation_required');
      }
      const deleted = await plane.tp.tenants.delete({ id: onShardA, confirm: onShardA }, TEST_ACTOR);
      expect(deleted.status).to.equal('deleted');
      const left = await adminQuery(
        shard,
        'SELECT tenant_id, count(*)::int AS n FROM deployments GROUP BY 1',
      );
      expect(left.rows.find((row) => row.tenant_id === onShardA)).to.equal(undefined);
      const neighbourRows = await adminQuery(
        neighbourDb,
        'SELECT count(*)::int AS n FROM deployments WHERE tenant_id = $1',
        ['neighbour'],
      );
      expect(neighbourRows.rows[0]!.n).to.equal(2);
    });

    it('drops a dedicated tenant’s database on delete', async () => {
      await plane.tp.tenants.delete({ id: 'big-corp', confirm: 'big-corp' }, TEST_ACTOR);
      expect(await databaseExists(`${plane.prefix}_t_big_corp`)).to.equal(false);
      expect(await plane.tp.catalog.getDatabase(dedicatedDatabaseId('big-corp'))).to.equal(undefined);
      expect((await plane.tp.catalog.getTenant('big-corp'))?.status).to.equal('deleted');
    });

    it('records admin actions in the audit log', async () => {
      const actions = await plane.tp
        .knex('audit_log')
        .where({ tenant_id: 'big-corp' })
        .orderBy('id')
        .pluck('action');
      expect(actions).to.deep.equal(['tenant.create', 'tenant.delete']);
    });

    if (admin.superuser) {
      it('keeps serving a dedicated database bound the earlier way, by a per-database setting', async () => {
        await plane.tp.tenants.create({ id: 'old-corp', tier: 'enterprise' }, TEST_ACTOR);
        const name = `${plane.prefix}_t_old_corp`;
        // What earlier versions did when they created a dedicated database (a superuser may).
        await adminQuery('postgres', `ALTER DATABASE "${name}" SET tenantplane.tenant_id = 'old-corp'`);
        const served = await plane.openAnother({ serveTraffic: true });
        const db = await served.router!.forTenant('old-corp');
        await db.query(
          "INSERT INTO deployments (tenant_id, project_name, status) VALUES ('old-corp', 'p', 'ready')",
        );
        const seen = await db.query(
          "SELECT current_setting('tenantplane.tenant_id') AS t, tenant_id FROM deployments",
        );
        expect(seen.rows).to.deep.equal([{ t: 'old-corp', tenant_id: 'old-corp' }]);
        await plane.tp.tenants.delete({ id: 'old-corp', confirm: 'old-corp' }, TEST_ACTOR);
      });
    }
  });
}
