import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import pg from 'pg';
import { inMoveTransactions } from '../src/moves/move-connections.js';
import { resyncTable } from '../src/moves/row-resync.js';
import { matchingLayouts } from '../src/moves/table-layout.js';
import { ADMIN_KINDS, createManagedAdmin } from './support/managed-admin.js';
import { adminQuery, adminUrlFor, dropEverything } from './support/test-plane.js';

for (const admin of ADMIN_KINDS) {
  describe(`tier move re-sync with a ${admin.name}`, () => {
    const prefix = `t${randomBytes(4).toString('hex')}`;
    const [sourceDb, targetDb] = [`${prefix}_resync_source`, `${prefix}_resync_target`];
    const clients: pg.Client[] = [];

    // `names` compares with the typed record hash; `amounts` has a numeric column, so it falls back to md5 of
    // each row's text, which tells 1.0 from 1.00. Both have forced row-level security like tenant tables, so
    // a non-superuser admin, their owner, is bound by it.
    const policy = (table: string) => `ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
    ALTER TABLE ${table} FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON ${table}
      USING (tenant_id = current_setting('tenantplane.tenant_id', true))
      WITH CHECK (tenant_id = current_setting('tenantplane.tenant_id', true));`;
    const schema = `CREATE TABLE names (id uuid PRIMARY KEY, tenant_id text NOT NULL, name text NOT NULL);
    CREATE TABLE amounts (id uuid PRIMARY KEY, tenant_id text NOT NULL, amount numeric NOT NULL);
    ${policy('names')} ${policy('amounts')}`;

    async function contents(database: string): Promise<unknown[]> {
      return (
        await adminQuery(
          database,
          `SELECT 'names' AS t, id, tenant_id, name AS v FROM names
         UNION ALL SELECT 'amounts', id, tenant_id, amount::text FROM amounts ORDER BY t, id`,
        )
      ).rows;
    }

    before(async () => {
      const managedUrl = admin.superuser ? undefined : new URL(await createManagedAdmin(prefix));
      const urlFor = (database: string) => {
        if (!managedUrl) return adminUrlFor(database);
        const url = new URL(managedUrl);
        url.pathname = `/${database}`;
        return url.toString();
      };
      for (const database of [sourceDb, targetDb]) {
        // Made and owned by the admin role, as a tenant database is.
        const server = new pg.Client({ connectionString: urlFor('postgres') });
        await server.connect();
        await server.query(`CREATE DATABASE "${database}"`);
        await server.end();
        const client = new pg.Client({ connectionString: urlFor(database) });
        await client.connect();
        await client.query(schema);
        clients.push(client);
      }
      const rows = `INSERT INTO names VALUES
        ('00000000-0000-4000-8000-000000000001', 'acme', 'kept'),
        ('00000000-0000-4000-8000-000000000002', 'acme', 'renamed later'),
        ('00000000-0000-4000-8000-000000000003', 'acme', 'deleted later'),
        ('00000000-0000-4000-8000-000000000009', 'other', 'a neighbour');
      INSERT INTO amounts VALUES
        ('00000000-0000-4000-8000-000000000011', 'acme', 1.0),
        ('00000000-0000-4000-8000-000000000012', 'acme', 2);`;
      await adminQuery(sourceDb, rows);
      await adminQuery(targetDb, rows);
      // What happened on the source after the copy.
      await adminQuery(
        sourceDb,
        `UPDATE names SET name = 'renamed' WHERE id = '00000000-0000-4000-8000-000000000002';
       DELETE FROM names WHERE id = '00000000-0000-4000-8000-000000000003';
       INSERT INTO names VALUES ('00000000-0000-4000-8000-000000000004', 'acme', 'added');
       UPDATE amounts SET amount = 1.00 WHERE id = '00000000-0000-4000-8000-000000000011';
       UPDATE names SET name = 'neighbour changed' WHERE tenant_id = 'other';`,
      );
    });
    after(async () => {
      for (const client of clients) await client.end();
      await dropEverything(prefix);
    });

    it('brings over inserts, updates and deletes of the tenant only, moving just the rows that differ', async () => {
      const [source, target] = clients as [pg.Client, pg.Client];
      const layouts = await matchingLayouts(source, target);
      const counts = await inMoveTransactions(source, target, 'acme', async () => {
        const result: Record<string, unknown> = {};
        for (const layout of layouts) result[layout.name] = await resyncTable(source, target, 'acme', layout);
        return result;
      });
      expect(counts).to.deep.equal({ amounts: { removed: 1, copied: 1 }, names: { removed: 2, copied: 2 } });
      const expected = (await contents(sourceDb)).map((row) =>
        (row as { tenant_id: string }).tenant_id === 'other' ? { ...(row as object), v: 'a neighbour' } : row,
      );
      expect(await contents(targetDb)).to.deep.equal(expected);
      const again = await inMoveTransactions(source, target, 'acme', async () => {
        const result = [];
        for (const layout of layouts) result.push(await resyncTable(source, target, 'acme', layout));
        return result;
      });
      expect(again, 'nothing left to move').to.deep.equal([
        { removed: 0, copied: 0 },
        { removed: 0, copied: 0 },
      ]);
    });
  });
}
