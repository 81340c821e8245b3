import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { TEST_POSTGRES_URL } from './setup/hooks.js';
import { type PgProxy, startPgProxy } from './support/pg-proxy.js';
import { runTenantctl, type TenantctlResult } from './support/tenantctl.js';
import { createTestCluster } from './support/test-cluster.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';
import { createTlsCluster, type TlsCluster } from './support/tls-cluster.js';

const ADMIN = 'tp_admin';

describe('tenantctl servers update', function () {
  this.timeout(60000);
  let cluster: TlsCluster;
  let plane: TestPlane;
  let appRole: string;
  let proxy: PgProxy | undefined;
  let password = randomBytes(12).toString('hex');
  const adminUrl = (secret: string, params?: Record<string, string>) =>
    cluster.url(ADMIN, secret, 'postgres', params);
  const tenantctl = (...args: string[]) => runTenantctl(plane.cliEnv(), ...args);
  const storedUrl = () => plane.tp.catalog.serverAdminUrl('tls-main');

  /** What the service's router reads and writes for `tenant`, on a connection opened after this call. */
  async function freshRouterQuery(tenant: string, databaseId: string) {
    plane.tp.router.pools.evict(databaseId);
    const db = await plane.tp.router.forTenant(tenant);
    return db.query<{ n: number; pid: number }>(
      'SELECT count(*)::int AS n, pg_backend_pid() AS pid FROM deployments',
    );
  }

  /** pg_stat_ssl's client certificate subject of each session of the application role. */
  async function appSessionClientDns(): Promise<Array<string | null>> {
    const result = await cluster.query<{ client_dn: string | null }>(
      'postgres',
      `SELECT s.client_dn FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename = $1`,
      [appRole],
    );
    return result.rows.map((row) => row.client_dn);
  }

  function expectNoSecrets(result: TenantctlResult, ...secrets: string[]) {
    for (const secret of secrets) expect(result.stdout + result.stderr).not.to.contain(secret);
  }

  before(async () => {
    cluster = await createTlsCluster();
    await cluster.query(
      'postgres',
      `CREATE ROLE ${ADMIN} LOGIN CREATEDB CREATEROLE PASSWORD '${password}' IN ROLE pg_read_all_stats`,
    );
    plane = await createTestPlane();
    await plane.tp.servers.add(
      { id: 'tls-main', adminUrl: adminUrl(password), maxConnections: 20 },
      TEST_ACTOR,
    );
    appRole = (await plane.tp.catalog.requireServer('tls-main')).appRole;
    await plane.tp.shards.add({ id: 'shard-a', serverId: 'tls-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'acme', tier: 'starter' }, TEST_ACTOR);
  });
  after(async () => {
    proxy?.release();
    await plane?.close();
    await proxy?.close();
    await cluster?.drop();
  });

  it('takes a rotated admin password: stored sealed, audited, used by admin work; the router keeps serving', async () => {
    const oldPassword = password;
    password = randomBytes(12).toString('hex');
    await cluster.query('postgres', `ALTER ROLE ${ADMIN} PASSWORD '${password}'`);
    // The old URL no longer works for anything that needs the admin role.
    const before = await plane.tp.migrationStatus();
    expect(before.map((status) => status.reachable)).to.deep.equal([false]);

    const update = await tenantctl('servers', 'update', 'tls-main', '--url', adminUrl(password), '--json');
    expect(update.code, update.stderr).to.equal(0);
    expectNoSecrets(update, password, oldPassword);
    expect(JSON.parse(update.stdout)).to.deep.include({
      id: 'tls-main',
      tls: { sslmode: 'verify-full', sslrootcert: cluster.certificates.caFile, sslcert: null },
    });

    expect(new URL(await storedUrl()).password).to.equal(password);
    const sealed = await plane.tp.knex('servers').where({ id: 'tls-main' }).first('admin_url_sealed');
    expect(sealed.admin_url_sealed).not.to.contain(password);
    const [entry] = await plane.tp.catalog.listAudit({ limit: 1 });
    expect(entry).to.deep.include({
      action: 'server.update',
      actor: `cli:${process.env.USER ?? 'operator'}`,
    });
    expect(JSON.stringify(entry!.details)).not.to.contain(password);
    expect(entry!.details).to.deep.include({ server: 'tls-main', sslmode: 'verify-full' });

    // Admin work in this (already running) instance uses the new URL.
    expect((await plane.tp.migrationStatus()).map((status) => status.reachable)).to.deep.equal([true]);
    await plane.tp.tenants.create({ id: 'initech', tier: 'enterprise' }, TEST_ACTOR);
    const db = await plane.tp.router.forTenant('acme');
    await db.query(
      "INSERT INTO deployments (tenant_id, project_name, status) VALUES ('acme', 'web', 'ready')",
    );
    expect((await freshRouterQuery('acme', 'shard-a')).rows[0]!.n).to.equal(1);

    const list = await tenantctl('servers', 'list', '--json');
    expect(list.code, list.stderr).to.equal(0);
    expectNoSecrets(list, password);
    const [listed] = JSON.parse(list.stdout) as Array<{ id: string; tls: { sslmode: string } }>;
    expect([listed!.id, listed!.tls.sslmode]).to.deep.equal(['tls-main', 'verify-full']);
    const table = await tenantctl('servers', 'list');
    expect(table.stdout).to.match(/^ID\s+HOST\s+REGION\s+DRAINING\s+TLS\s/);
    expect(table.stdout).to.match(/tls-main\s+127\.0\.0\.1:\d+\s+no\s+verify-full\s/);
  });

  it('makes every running instance open its next connections with the new TLS settings', async () => {
    // The service has cached the server's credentials: its connections present no client certificate.
    await freshRouterQuery('acme', 'shard-a');
    expect(await appSessionClientDns()).to.deep.equal([null]);

    const withClientCertificate = adminUrl(password, {
      ...cluster.verifyFull,
      sslcert: cluster.certificates.clientCertFile,
      sslkey: cluster.certificates.clientKeyFile,
    });
    const update = await tenantctl('servers', 'update', 'tls-main', '--url', withClientCertificate);
    expect(update.code, update.stderr).to.equal(0);
    expect(update.stdout).to.contain('TLS: verify-full');

    // The change reaches this instance through the catalog's NOTIFY, within a second.
    const deadline = performance.now() + 3000;
    let seen: Array<string | null> = [];
    while (performance.now() < deadline) {
      await freshRouterQuery('acme', 'shard-a');
      await sleep(50);
      seen = await appSessionClientDns();
      if (seen.length === 1 && seen[0] !== null) break;
      await sleep(100);
    }
    expect(seen).to.deep.equal(['/CN=tenantplane-client']);
  });

  it('refuses a URL it cannot connect with, and keeps the old one', async () => {
    const kept = await storedUrl();
    const wrongPassword = await tenantctl('servers', 'update', 'tls-main', '--url', adminUrl('not-it'));
    expect(wrongPassword.code).to.equal(1);
    expect(wrongPassword.stderr).to.contain('password authentication failed');
    expect(wrongPassword.stderr).to.contain('the admin URL of server tls-main is unchanged');
    expectNoSecrets(wrongPassword, password);

    const wrongCa = await tenantctl(
      'servers',
      'update',
      'tls-main',
      '--url',
      adminUrl(password, { sslmode: 'verify-full', sslrootcert: cluster.certificates.otherCaFile }),
    );
    expect(wrongCa.code).to.equal(1);
    expect(wrongCa.stderr).to.contain(
      `certificate failed verification against sslrootcert ${cluster.certificates.otherCaFile}`,
    );
    expect(await storedUrl()).to.equal(kept);
  });

  it('refuses the URL of another server, and keeps the old one', async () => {
    const kept = await storedUrl();
    // The test PostgreSQL on 5432: a working admin URL, but not where tls-main's databases are.
    const other = await tenantctl('servers', 'update', 'tls-main', '--url', TEST_POSTGRES_URL);
    expect(other.code).to.equal(1);
    expect(other.stderr).to.match(/is not server tls-main: it has no database t[0-9a-f]+_s_shard_a/);
    expect(other.stderr).to.contain('(server_mismatch)');
    expect(await storedUrl()).to.equal(kept);

    // Same database names and role, another server: the application role's password gives it away.
    const lookalike = await createTestCluster();
    try {
      await lookalike.query('postgres', `CREATE DATABASE "${plane.prefix}_s_shard_a"`);
      await lookalike.query('postgres', `CREATE DATABASE "${plane.prefix}_t_initech"`);
      await lookalike.query('postgres', `CREATE ROLE "${appRole}" LOGIN PASSWORD 'guessed'`);
      const result = await tenantctl('servers', 'update', 'tls-main', '--url', lookalike.superuserUrl());
      expect(result.code).to.equal(1);
      expect(result.stderr).to.contain(`is not server tls-main: it refuses the password of role ${appRole}`);
      expect(await storedUrl()).to.equal(kept);
    } finally {
      await lookalike.drop();
    }
  });

  it('keeps the credentials it has while cut off from the catalog: new connections still open', async () => {
    proxy = await startPgProxy();
    const other = await plane.openAnother({ controlDatabaseUrl: proxy.url(`${plane.prefix}_control`) });
    const query = async () => {
      other.router!.pools.evict('shard-a');
      const db = await other.router!.forTenant('acme');
      return db.query<{ n: number }>('SELECT count(*)::int AS n FROM deployments');
    };
    const rows = (await query()).rows[0]!.n;
    // Every connection to the control database is closed and new ones are refused: the change channel is
    // degraded and drops every route each second, but routes stand in while the lease holds.
    proxy.cut(() => true);
    const deadline = performance.now() + 3000;
    while (other.directory.changeChannel === 'live' && performance.now() < deadline) await sleep(20);
    expect(other.directory.changeChannel).to.equal('degraded');
    await sleep(1200);
    expect((await query()).rows[0]!.n).to.equal(rows);
    proxy.release();
  });
});
