import { expect } from 'chai';
import pg from 'pg';
import { leavesSessionUncertain, queryAsTenant } from '../src/tenant-session/tenant-scoped-query.js';
import { TENANT_SETTING } from '../src/tenant-session/tenant-setting.js';
import { TEST_POSTGRES_URL } from './setup/hooks.js';

/**
 * The contract TenantScopedQuery relies on in pg's Query internals (prepare, handleCommandComplete,
 * submittedNamedStatements), checked on a real server, so a pg upgrade that changes them fails here.
 */
describe('a statement run as a tenant (TenantScopedQuery on pg internals)', () => {
  let pool: pg.Pool;
  let client: pg.PoolClient;
  const setting = `SELECT current_setting('${TENANT_SETTING}', true) AS tenant`;

  before(async () => {
    pool = new pg.Pool({ connectionString: TEST_POSTGRES_URL, max: 1 });
    client = await pool.connect();
  });
  after(async () => {
    client.release();
    await pool.end();
  });

  /** What the session says its tenant is outside any statement run as one. */
  async function sessionTenant(): Promise<string | null> {
    const { rows } = await client.query<{ tenant: string | null }>(setting);
    return rows[0]!.tenant === '' ? null : rows[0]!.tenant;
  }

  it('sees the tenant in the statement and nowhere after it: one implicit transaction, ended at the Sync', async () => {
    const { rows } = await queryAsTenant<{ tenant: string }>(client, 'acme', { text: setting });
    expect(rows).to.deep.equal([{ tenant: 'acme' }]);
    expect(await sessionTenant()).to.equal(null);
    const next = await queryAsTenant<{ tenant: string }>(client, 'globex', { text: setting });
    expect(next.rows).to.deep.equal([{ tenant: 'globex' }]);
    expect(await sessionTenant()).to.equal(null);
  });

  it('binds parameters and returns rows, fields and the command like an ordinary query', async () => {
    const result = await queryAsTenant<{ n: number; label: string }>(client, 'acme', {
      text: 'SELECT n, $1::text AS label FROM generate_series(1, 3) n',
      values: ['x'],
    });
    expect(result.rows).to.deep.equal([
      { n: 1, label: 'x' },
      { n: 2, label: 'x' },
      { n: 3, label: 'x' },
    ]);
    expect(result.command).to.equal('SELECT');
    expect(result.rowCount).to.equal(3);
    expect(result.fields.map((field) => field.name)).to.deep.equal(['n', 'label']);
  });

  it('rolls back a failed statement with what it wrote, and keeps the connection usable', async () => {
    await client.query('CREATE TEMP TABLE written (tenant text)');
    const failure = await queryAsTenant(client, 'acme', {
      text: `INSERT INTO written SELECT current_setting('${TENANT_SETTING}') FROM generate_series(1, 2) n
             WHERE 1 / (2 - n) >= 0`,
    }).catch((error: Error) => error);
    expect((failure as { code?: string }).code).to.equal('22012');
    expect(leavesSessionUncertain(failure), 'a failure after the tenant was set').to.equal(false);
    expect((await client.query('SELECT count(*)::int AS n FROM written')).rows[0].n).to.equal(0);
    await queryAsTenant(client, 'acme', {
      text: `INSERT INTO written VALUES (current_setting('${TENANT_SETTING}'))`,
    });
    expect((await client.query('SELECT tenant FROM written')).rows).to.deep.equal([{ tenant: 'acme' }]);
  });

  it('marks a failure before the tenant was set as leaving the session uncertain', async () => {
    const failure = await queryAsTenant(client, 'acme', { text: 'SELEC 1' }).catch((error: Error) => error);
    expect((failure as { code?: string }).code).to.equal('42601');
    expect(leavesSessionUncertain(failure)).to.equal(true);
  });

  it('answers a value pg cannot encode with its error, sending nothing but a Sync', async () => {
    const unencodable = {
      toPostgres() {
        throw new Error('cannot encode');
      },
    };
    const failure = await queryAsTenant(client, 'acme', {
      text: 'SELECT $1::text',
      values: [unencodable],
    }).catch((error: Error) => error);
    expect((failure as Error).message).to.equal('cannot encode');
    const { rows } = await queryAsTenant<{ tenant: string }>(client, 'acme', { text: setting });
    expect(rows).to.deep.equal([{ tenant: 'acme' }]);
  });

  it('prepares a named statement once per connection and reuses it', async () => {
    for (const tenant of ['acme', 'globex']) {
      const { rows } = await queryAsTenant<{ tenant: string }>(client, tenant, {
        name: 'tenant_session_contract',
        text: setting,
      });
      expect(rows).to.deep.equal([{ tenant }]);
    }
    const prepared = await client.query<{ name: string }>(
      "SELECT name FROM pg_prepared_statements WHERE name IN ('tenant_session_contract', 'tenantplane_set_tenant') ORDER BY name",
    );
    expect(prepared.rows.map((row) => row.name)).to.deep.equal([
      'tenant_session_contract',
      'tenantplane_set_tenant',
    ]);
  });
});
