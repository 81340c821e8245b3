import { expect } from 'chai';
import { migrateControlDatabase } from '../src/catalog/control-database.js';
import { InvalidInputError } from '../src/errors/index.js';
import { parseQuotaSetting } from '../src/limits/tier-quotas.js';
import { migrateDatabase } from '../src/migrations/database-migrator.js';
import { loadMigrations } from '../src/migrations/migration-source.js';
import { CONTROL_MIGRATIONS_DIR } from '../src/paths.js';
import type { Tenantplane } from '../src/tenantplane.js';
import { runTenantctl } from './support/tenantctl.js';
import {
  adminQuery,
  adminUrlFor,
  createTestPlane,
  dropEverything,
  TEST_ACTOR,
  type TestPlane,
} from './support/test-plane.js';

describe('tier quotas as catalog rows', function () {
  this.timeout(60000);

  describe('control migration 0010 on a catalog in use', () => {
    const prefix = `t${Math.random().toString(16).slice(2, 10)}`;
    const database = `${prefix}_control`;
    before(async () => adminQuery('postgres', `CREATE DATABASE "${database}"`));
    after(async () => dropEverything(prefix));

    it('carries the quota columns, as they were set, into rows, and keeps both in step', async () => {
      const migrations = await loadMigrations(CONTROL_MIGRATIONS_DIR);
      await migrateDatabase({
        connectionString: adminUrlFor(database),
        migrations: migrations.filter((migration) => migration.name < '0010'),
        ledger: { schema: 'tenantplane', table: 'control_migrations' },
      });
      await adminQuery(
        database,
        'UPDATE tiers SET max_deployments = 7, max_storage_bytes = NULL WHERE id = $1',
        ['starter'],
      );
      expect((await migrateControlDatabase(adminUrlFor(database))).applied).to.include('0010_tier_quotas');

      const quotas = async (tier: string) =>
        (
          await adminQuery(
            database,
            'SELECT name, counts, maximum::int AS max FROM tier_quotas WHERE tier = $1 ORDER BY name',
            [tier],
          )
        ).rows;
      expect(await quotas('starter')).to.deep.equal([
        { name: 'deployments', counts: 'rows:deployments', max: 7 },
        { name: 'storage_bytes', counts: 'storage_bytes', max: null },
        { name: 'users', counts: 'rows:users', max: 10 },
        { name: 'workflows', counts: 'rows:workflows', max: 20 },
      ]);
      expect((await quotas('enterprise')).map((quota) => quota.max)).to.deep.equal([null, null, null, null]);

      // A write to a column, as the previous version's scripts make, reaches the row…
      await adminQuery(database, 'UPDATE tiers SET max_workflows = 3, max_users = NULL WHERE id = $1', [
        'starter',
      ]);
      expect(await quotas('starter')).to.deep.include.members([
        { name: 'workflows', counts: 'rows:workflows', max: 3 },
        { name: 'users', counts: 'rows:users', max: null },
      ]);
      // …and a change of the rows reaches the columns, which the previous version's routes read.
      await adminQuery(
        database,
        "UPDATE tier_quotas SET maximum = 9 WHERE tier = 'pro' AND name = 'deployments'",
      );
      await adminQuery(database, "DELETE FROM tier_quotas WHERE tier = 'pro' AND name = 'workflows'");
      await adminQuery(
        database,
        "INSERT INTO tier_quotas (tier, name, counts, maximum) VALUES ('enterprise', 'users', 'rows:users', 50) ON CONFLICT (tier, name) DO UPDATE SET maximum = EXCLUDED.maximum",
      );
      const columns = await adminQuery(
        database,
        'SELECT id, max_users, max_deployments, max_workflows FROM tiers ORDER BY id',
      );
      expect(columns.rows).to.deep.equal([
        { id: 'enterprise', max_users: 50, max_deployments: null, max_workflows: null },
        { id: 'pro', max_users: 100, max_deployments: 9, max_workflows: null },
        { id: 'starter', max_users: null, max_deployments: 7, max_workflows: 3 },
      ]);
      // A quota of a table of the tenant's own schema has no column; a bad one is refused by the catalog.
      await adminQuery(database, "INSERT INTO tier_quotas VALUES ('pro', 'notes', 'rows:notes', 5)");
      const bad = await adminQuery(
        database,
        "INSERT INTO tier_quotas VALUES ('pro', 'x', 'rows:a; drop', 5)",
      ).catch((error: Error) => error);
      expect(bad).to.be.instanceOf(Error);
    });
  });

  describe('tenantctl tiers', () => {
    let plane: TestPlane<Tenantplane>;
    const tenantctl = (...args: string[]) => runTenantctl(plane.cliEnv(), ...args);

    before(async () => {
      plane = await createTestPlane({ serveTraffic: false });
    });
    after(async () => plane?.close());

    it('lists the tiers with their quotas, the sample application’s to begin with', async () => {
      const listed = await tenantctl('tiers', 'list', '--json');
      expect(listed.code, listed.stderr).to.equal(0);
      const tiers = JSON.parse(listed.stdout) as Array<{ id: string; quotas: unknown[] }>;
      expect(tiers.map((tier) => tier.id)).to.deep.equal(['starter', 'pro', 'enterprise']);
      expect(tiers[0]).to.deep.include({
        placement: 'shard',
        pool_size: 2,
        requests_per_minute: 600,
        quotas: [
          { name: 'deployments', counts: 'rows:deployments', max: 100 },
          { name: 'users', counts: 'rows:users', max: 10 },
          { name: 'workflows', counts: 'rows:workflows', max: 20 },
          { name: 'storage_bytes', counts: 'storage_bytes', max: 104857600 },
        ],
      });
      expect((await tenantctl('tiers', 'list')).stdout).to.match(/starter +shard +2 +600 +deployments=100/);
    });

    it('sets, unsets and replaces quotas, audited', async () => {
      const changed = await tenantctl(
        'tiers',
        'quotas',
        'pro',
        '--set',
        'notes=5',
        '--set',
        'open_notes=rows:notes:unlimited',
        '--unset',
        'users',
        '--json',
      );
      expect(changed.code, changed.stderr).to.equal(0);
      expect(JSON.parse(changed.stdout).quotas.map((quota: { name: string }) => quota.name)).to.deep.equal([
        'deployments',
        'notes',
        'open_notes',
        'workflows',
        'storage_bytes',
      ]);
      const replaced = await tenantctl(
        'tiers',
        'quotas',
        'starter',
        '--replace',
        '--set',
        'notes=3',
        '--json',
      );
      expect(JSON.parse(replaced.stdout).quotas).to.deep.equal([
        { name: 'notes', counts: 'rows:notes', max: 3 },
      ]);
      const shown = await tenantctl('tiers', 'quotas', 'starter');
      expect(shown.stdout).to.include('notes: rows of notes, at most 3');
      // The sample's columns follow: starter has no deployments quota any more.
      const starter = await plane.tp.knex('tiers').where({ id: 'starter' }).first();
      expect(starter).to.include({ max_deployments: null, max_users: null });

      const audit = await plane.tp.knex('audit_log').where({ action: 'tier.set_quotas' }).orderBy('id');
      expect(audit.map((entry) => entry.details.tier)).to.deep.equal(['pro', 'starter']);
      expect(audit[1].details.to).to.deep.equal([{ name: 'notes', counts: 'rows:notes', max: 3 }]);
      expect(audit[1].actor).to.match(/^cli:/);
    });

    it('exits 2 for a bad quota and 1 for an unknown tier', async () => {
      for (const setting of [
        'Notes=5',
        'notes=-1',
        'notes=lots',
        'notes=rows:x y:5',
        'storage_bytes=rows:a:1',
        'x=storage_bytes:1',
        'requests_per_minute=5',
      ]) {
        expect(() => parseQuotaSetting(setting), setting).to.throw(InvalidInputError);
      }
      expect((await tenantctl('tiers', 'quotas', 'pro', '--set', 'notes=-1')).code).to.equal(2);
      expect((await tenantctl('tiers', 'quotas', 'gold')).code).to.equal(1);
      expect((await tenantctl('tiers', 'quotas', 'gold', '--set', 'notes=1')).code).to.equal(1);
      // Nothing changed on pro.
      const pro = await plane.tp.catalog.getTier('pro');
      expect(pro!.quotas.map((quota) => quota.name)).to.include('notes');
      await plane.tp.catalog.setTierQuotas('pro', [], TEST_ACTOR);
      expect((await plane.tp.catalog.getTier('pro'))!.quotas).to.deep.equal([]);
    });
  });
});
