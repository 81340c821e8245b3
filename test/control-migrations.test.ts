import { readdir } from 'node:fs/promises';
import { expect } from 'chai';
import { migrateControlDatabase } from '../src/catalog/control-database.js';
import { CONTROL_MIGRATIONS_DIR } from '../src/paths.js';
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
    const files = (await readdir(CONTROL_MIGRATIONS_DIR))
      .filter((file) => file.endsWith('.sql') && !file.endsWith('.down.sql'))
      .map((file) => file.replace(/\.sql$/, ''))
      .sort();
    expect(files.slice(0, 2)).to.deep.equal(['0001_catalog', '0002_migration_ledger']);
    expect(applied).to.deep.equal(files);
    const ledger = await adminQuery(
      database,
      'SELECT name FROM tenantplane.control_migrations ORDER BY name',
    );
    expect(ledger.rows).to.deep.equal(files.map((name) => ({ name })));
    const tiers = await adminQuery(database, 'SELECT id FROM tiers ORDER BY id');
    expect(tiers.rows.map((row) => row.id)).to.deep.equal(['enterprise', 'pro', 'starter']);
  });

  it('does nothing when the schema is up to date', async () => {
    expect((await migrateControlDatabase(adminUrlFor(database))).applied).to.deep.equal([]);
  });
});
