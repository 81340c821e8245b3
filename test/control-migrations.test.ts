import { expect } from 'chai';
import { migrateControlDatabase } from '../src/catalog/control-database.js';
import { adminQuery, adminUrlFor, dropEverything } from './support/test-plane.js';

describe('control-plane migrations', () => {
  const prefix = `t${Math.random().toString(16).slice(2, 10)}`;
  const database = `${prefix}_control`;

  before(async () => adminQuery('postgres', `CREATE DATABASE "${database}"`));
  after(async () => dropEverything(prefix));

  it('lets several processes start at once and applies each migration exactly once', async () => {
    const results = await Promise.all(
      Array.from({ length: 4 }, () => migrateControlDatabase(adminUrlFor(database))),
    );
    const applied = results.flatMap((result) => result.applied);
    expect(applied).to.deep.equal(['0001_catalog', '0002_migration_ledger']);
    const ledger = await adminQuery(
      database,
      'SELECT name FROM tenantplane.control_migrations ORDER BY name',
    );
    expect(ledger.rows).to.deep.equal([{ name: '0001_catalog' }, { name: '0002_migration_ledger' }]);
    const tiers = await adminQuery(database, 'SELECT id FROM tiers ORDER BY id');
    expect(tiers.rows.map((row) => row.id)).to.deep.equal(['enterprise', 'pro', 'starter']);
  });

  it('does nothing when the schema is up to date', async () => {
    expect((await migrateControlDatabase(adminUrlFor(database))).applied).to.deep.equal([]);
  });
});
