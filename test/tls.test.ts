import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import pg from 'pg';
import { BackupCatalog } from '../src/backup/backup-catalog.js';
import { verifyBackup } from '../src/backup/backup-reader.js';
import { FileObjectStore } from '../src/backup/file-object-store.js';
import { LocalKeyProvider } from '../src/backup/key-provider.js';
import { backupTenant } from '../src/backup/tenant-backup.js';
import { newArchiveId } from '../src/backup/tenant-export.js';
import { type RestoreDeps, restoreTenant } from '../src/backup/tenant-restore.js';
import { dedicatedDatabaseId } from '../src/catalog/records.js';
import type { TenantplaneError } from '../src/errors/index.js';
import { withAdminClient } from '../src/provisioning/admin-connection.js';
import { rejection } from './support/async-helpers.js';
import { copyOfTenantMigrations, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';
import { createTlsCluster, type TlsCluster } from './support/tls-cluster.js';

const ADMIN = 'tp_admin';

/** The sessions of `role` on the TLS cluster, with what pg_stat_ssl says of each. */
async function sessionsOf(cluster: TlsCluster, role: string) {
  const result = await cluster.query<{ datname: string; ssl: boolean; version: string | null }>(
    'postgres',
    `SELECT a.datname, s.ssl, s.version FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
      WHERE a.usename = $1`,
    [role],
  );
  return result.rows;
}

async function ownSessionSsl(url: string): Promise<boolean> {
  return withAdminClient(url, async (client) => {
    const result = await client.query<{ ssl: boolean }>(
      'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    return result.rows[0]!.ssl;
  });
}

describe('TLS to tenant database servers', function () {
  this.timeout(60000);
  let cluster: TlsCluster;
  let plane: TestPlane;
  let migrationsDir: string;
  let storeDir: string;
  const adminPassword = randomBytes(12).toString('hex');
  const adminUrl = (params?: Record<string, string>) => cluster.url(ADMIN, adminPassword, 'postgres', params);

  before(async () => {
    cluster = await createTlsCluster();
    // An admin role as managed PostgreSQL gives one: no superuser.
    await cluster.query(
      'postgres',
      `CREATE ROLE ${ADMIN} LOGIN CREATEDB CREATEROLE PASSWORD '${adminPassword}' IN ROLE pg_read_all_stats`,
    );
    migrationsDir = await copyOfTenantMigrations();
    storeDir = await mkdtemp(path.join(os.tmpdir(), 'tenantplane-tls-store-'));
    plane = await createTestPlane({ tenantMigrationsDir: migrationsDir });
    await plane.tp.servers.add({ id: 'tls-main', adminUrl: adminUrl(), maxConnections: 20 }, TEST_ACTOR);
    await plane.tp.shards.add({ id: 'shard-a', serverId: 'tls-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'acme', tier: 'starter' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'initech', tier: 'enterprise' }, TEST_ACTOR);
  });
  after(async () => {
    await plane?.close();
    await cluster?.drop();
    await rm(migrationsDir, { recursive: true, force: true });
    await rm(storeDir, { recursive: true, force: true });
  });

  it('serves tenants through application connections that are encrypted like the admin ones', async () => {
    const router = plane.tp.router;
    for (const tenant of ['acme', 'initech']) {
      const db = await router.forTenant(tenant);
      await db.query('INSERT INTO deployments (tenant_id, project_name, status) VALUES ($1, $2, $3)', [
        tenant,
        `${tenant}-web`,
        'ready',
      ]);
      const rows = await db.query<{ project_name: string }>('SELECT project_name FROM deployments');
      expect(rows.rows.map((row) => row.project_name)).to.deep.equal([`${tenant}-web`]);
    }
    const appRole = (await plane.tp.catalog.requireServer('tls-main')).appRole;
    const sessions = await sessionsOf(cluster, appRole);
    expect(sessions.map((session) => session.datname).sort()).to.deep.equal([
      `${plane.prefix}_s_shard_a`,
      `${plane.prefix}_t_initech`,
    ]);
    expect(sessions.every((session) => session.ssl && session.version?.startsWith('TLSv1.'))).to.equal(true);
    expect(await plane.tp.catalog.serverTls('tls-main')).to.deep.equal({
      sslmode: 'verify-full',
      sslrootcert: cluster.certificates.caFile,
      sslcert: null,
    });
  });

  it('runs a fleet migration, a backup and a restore over verified TLS', async () => {
    // The migration records whether its own session is encrypted.
    await writeFile(
      path.join(migrationsDir, '0003_tls_check.sql'),
      'CREATE TABLE tls_check AS SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();\n',
    );
    const run = await (await plane.tp.fleetRunner()).run({ direction: 'up', actor: 'test' });
    expect(run.status).to.equal('succeeded');
    for (const database of [`${plane.prefix}_s_shard_a`, `${plane.prefix}_t_initech`]) {
      const check = await cluster.query<{ ssl: boolean }>(database, 'SELECT ssl FROM tls_check');
      expect(check.rows).to.deep.equal([{ ssl: true }]);
    }
    const statuses = await plane.tp.migrationStatus();
    const seen = statuses.map((status) => [status.databaseId, status.reachable, status.pending]);
    expect(seen).to.have.deep.members([
      [dedicatedDatabaseId('initech'), true, []],
      ['shard-a', true, []],
    ]);

    const deps: RestoreDeps = {
      catalog: plane.tp.catalog,
      backups: new BackupCatalog(plane.tp.knex),
      store: new FileObjectStore(storeDir),
      keys: await LocalKeyProvider.load(plane.dataDir),
      tenants: plane.tp.tenants,
      databasePrefix: plane.prefix,
      migrationsDir,
      logger: plane.tp.logger,
      controlDatabaseUrl: plane.tp.controlDatabaseUrl,
    };
    for (const tenant of ['acme', 'initech']) {
      const db = await plane.tp.router.forTenant(tenant);
      await db.query('INSERT INTO deployments (tenant_id, project_name, status) VALUES ($1, $2, $3)', [
        tenant,
        `${tenant}-api`,
        'ready',
      ]);
      const backup = await backupTenant(deps, tenant, newArchiveId());
      expect(backup.state).to.equal('complete');
      expect((await verifyBackup(deps, tenant, backup.id)).tables.deployments).to.equal(2);
      await db.query('DELETE FROM deployments WHERE tenant_id = $1', [tenant]);
      await restoreTenant(deps, tenant, backup.id, { actor: TEST_ACTOR });
      const restored = await (await plane.tp.router.forTenant(tenant)).query<{ project_name: string }>(
        'SELECT project_name FROM deployments ORDER BY project_name',
      );
      expect(restored.rows.map((row) => row.project_name)).to.deep.equal([`${tenant}-api`, `${tenant}-web`]);
    }
  });

  it('reads sslmode as libpq does: require and the default prefer encrypt without verifying', async () => {
    // The test CA is not in the system's store: node-postgres' require (= verify-full) refuses this server.
    const requireUrl = adminUrl({ sslmode: 'require' });
    await plane.tp.servers.add({ id: 'tls-require', adminUrl: requireUrl }, TEST_ACTOR);
    expect(await ownSessionSsl(requireUrl)).to.equal(true);
    // No sslmode at all is libpq's prefer: TLS when the server offers it (this one takes nothing else).
    const preferUrl = adminUrl({});
    await plane.tp.servers.add({ id: 'tls-prefer', adminUrl: preferUrl }, TEST_ACTOR);
    expect(await ownSessionSsl(preferUrl)).to.equal(true);
    for (const id of ['tls-require', 'tls-prefer']) {
      const credentials = await plane.tp.catalog.serverAppCredentials(id);
      expect(credentials.ssl).to.include({ rejectUnauthorized: false });
    }
  });

  it('verifies the chain for verify-ca (and require with a CA), and the host name too for verify-full', async () => {
    const ca = cluster.certificates.caFile;
    // 127.0.0.2 reaches the same server, whose certificate names only 127.0.0.1 and localhost.
    const unnamed = (params: Record<string, string>) =>
      cluster.url(ADMIN, adminPassword, 'postgres', params, '127.0.0.2');
    await plane.tp.servers.add(
      { id: 'tls-verify-ca', adminUrl: unnamed({ sslmode: 'verify-ca', sslrootcert: ca }) },
      TEST_ACTOR,
    );
    const credentials = await plane.tp.catalog.serverAppCredentials('tls-verify-ca');
    const app = new pg.Client({ ...credentials, database: 'postgres' });
    await app.connect();
    try {
      const own = await app.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      expect(own.rows).to.deep.equal([{ ssl: true }]);
    } finally {
      await app.end();
    }

    const wrongName = await rejection<TenantplaneError>(
      ownSessionSsl(unnamed({ sslmode: 'verify-full', sslrootcert: ca })),
    );
    expect(wrongName.message).to.contain(
      `the server's certificate failed verification against sslrootcert ${ca} (sslmode=verify-full)`,
    );
    expect(wrongName.message).to.contain("IP: 127.0.0.2 is not in the cert's list");
    const otherCa = cluster.certificates.otherCaFile;
    const wrongChain = await rejection<TenantplaneError>(
      ownSessionSsl(unnamed({ sslmode: 'require', sslrootcert: otherCa })),
    );
    expect(wrongChain.message).to.contain(
      `failed verification against sslrootcert ${otherCa} (sslmode=require)`,
    );
  });

  it('refuses verify-full against a CA that did not sign the server certificate, naming the CA file', async () => {
    const wrongCa = adminUrl({ sslmode: 'verify-full', sslrootcert: cluster.certificates.otherCaFile });
    const failure = await rejection<TenantplaneError>(
      plane.tp.servers.add({ id: 'tls-wrong-ca', adminUrl: wrongCa }, TEST_ACTOR),
    );
    expect(failure.code).to.equal('server_unreachable');
    expect(failure.message).to.contain(
      `the server's certificate failed verification against sslrootcert ${cluster.certificates.otherCaFile} (sslmode=verify-full)`,
    );
    expect(failure.message).not.to.contain(adminPassword);
    const missing = path.join(cluster.certificates.directory, 'missing.pem');
    const unreadable = await rejection<TenantplaneError>(
      plane.tp.servers.add(
        { id: 'tls-no-ca', adminUrl: adminUrl({ sslmode: 'verify-full', sslrootcert: missing }) },
        TEST_ACTOR,
      ),
    );
    expect([unreadable.code, unreadable.message]).to.deep.equal([
      'server_tls_config',
      `cannot read sslrootcert ${missing}: ENOENT: no such file or directory, open '${missing}'`,
    ]);
    expect(await plane.tp.catalog.getServer('tls-wrong-ca')).to.equal(undefined);
    expect(await plane.tp.catalog.getServer('tls-no-ca')).to.equal(undefined);
  });
});
