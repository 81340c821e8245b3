import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { expect } from 'chai';
import { BackupCatalog } from '../src/backup/backup-catalog.js';
import { verifyBackup } from '../src/backup/backup-reader.js';
import { MAGIC } from '../src/backup/envelope-format.js';
import { FileObjectStore } from '../src/backup/file-object-store.js';
import { LocalKeyProvider } from '../src/backup/key-provider.js';
import { backupTenant } from '../src/backup/tenant-backup.js';
import { type ExportManifest, exportTenant, newArchiveId } from '../src/backup/tenant-export.js';
import { type RestoreDeps, restoreTenant } from '../src/backup/tenant-restore.js';
import type { TenantplaneError } from '../src/errors/index.js';
import type { Tenantplane } from '../src/tenantplane.js';
import { rejection } from './support/async-helpers.js';
import { ADMIN_KINDS } from './support/managed-admin.js';
import { seedTenantRows, tenantQuery, tenantRows } from './support/tenant-rows.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

for (const admin of ADMIN_KINDS) {
  describe(`tenant export, backup and restore with a ${admin.name}`, function () {
    this.timeout(60000);
    let plane: TestPlane<Tenantplane>;
    let storeDir: string;
    let store: FileObjectStore;
    let deps: RestoreDeps;

    before(async () => {
      plane = await createTestPlane({ serveTraffic: false });
      await admin.register(plane);
      await plane.tp.shards.add({ id: 'shard-a', serverId: 'pg-main' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'acme', tier: 'starter' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'globex', tier: 'starter' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'initech', tier: 'enterprise' }, TEST_ACTOR);
      await seedTenantRows(plane.tp, 'acme', 50, 'acme');
      await seedTenantRows(plane.tp, 'globex', 600, 'globex');
      await seedTenantRows(plane.tp, 'initech', 40, 'initech');
      storeDir = await mkdtemp(path.join(os.tmpdir(), 'tenantplane-store-'));
      store = new FileObjectStore(storeDir);
      deps = {
        catalog: plane.tp.catalog,
        backups: new BackupCatalog(plane.tp.knex),
        store,
        keys: await LocalKeyProvider.load(plane.dataDir),
        tenants: plane.tp.tenants,
        databasePrefix: plane.prefix,
        migrationsDir: plane.tp.tenantMigrationsDir,
        logger: plane.tp.logger,
        controlDatabaseUrl: plane.tp.controlDatabaseUrl,
      };
    });
    after(async () => {
      await plane?.close();
      if (storeDir) await rm(storeDir, { recursive: true, force: true });
    });

    const objectFile = (key: string) => path.join(storeDir, ...key.split('/'));

    it('exports exactly a shard tenant’s rows, none of its neighbours’, with a manifest', async () => {
      const result = await exportTenant(deps, 'acme', { exportId: newArchiveId() });
      const manifest = JSON.parse(await readFile(objectFile(result.manifestKey), 'utf8')) as ExportManifest;
      expect(manifest.tenantId).to.equal('acme');
      expect(manifest.schemaVersion).to.equal('0002_row_level_security');
      expect(manifest.tables.map((table) => table.name)).to.deep.equal([
        'audit_events',
        'deployments',
        'users',
        'workflows',
      ]);
      const expected = await tenantRows(plane.tp, 'acme');
      for (const table of manifest.tables) {
        expect(result.manifestKey.startsWith('exports/acme/')).to.equal(true);
        const lines = gunzipSync(await readFile(objectFile(table.key)))
          .toString('utf8')
          .split('\n')
          .filter((line) => line !== '');
        const rows = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
        expect(rows).to.have.length(table.rows);
        expect(rows).to.have.length(expected[table.name]!.length);
        expect(rows.every((row) => row.tenant_id === 'acme')).to.equal(true);
        const stored = await store.head(table.key);
        expect(stored?.size).to.equal(table.bytes);
      }
      const workflows = gunzipSync(await readFile(objectFile(manifest.tables[3]!.key))).toString('utf8');
      const first = JSON.parse(workflows.split('\n')[0]!) as { config: { text: string } };
      expect(first.config.text).to.equal('line\nbreak \\ ✓');
    });

    it('exports a dedicated tenant the same way', async () => {
      const result = await exportTenant(deps, 'initech', { exportId: newArchiveId() });
      expect(result.manifest.tables.map((table) => table.rows)).to.deep.equal([40, 40, 40, 40]);
    });

    it('backs up and restores a shard tenant row for row, replacing later changes, neighbours untouched', async () => {
      const before = await tenantRows(plane.tp, 'acme');
      const neighbour = await tenantRows(plane.tp, 'globex');
      const backup = await backupTenant(deps, 'acme', newArchiveId());
      expect(backup.state).to.equal('complete');
      expect(backup.rowCounts).to.deep.equal({ audit_events: 50, deployments: 50, users: 50, workflows: 50 });
      const raw = await readFile(objectFile(backup.objectKey));
      expect(raw.subarray(0, MAGIC.length).equals(MAGIC)).to.equal(true);
      expect(raw.includes(Buffer.from('acme-proj'))).to.equal(false);

      // The test connects as the server's admin, whom row-level security may not bind: filter explicitly.
      await tenantQuery(plane.tp, 'acme', "UPDATE users SET name = 'changed' WHERE tenant_id = 'acme'");
      await tenantQuery(plane.tp, 'acme', "DELETE FROM deployments WHERE tenant_id = 'acme' AND url IS NULL");
      await seedTenantRows(plane.tp, 'acme', 5, 'later');
      expect(await tenantRows(plane.tp, 'acme')).to.not.deep.equal(before);

      const result = await restoreTenant(deps, 'acme', backup.id, { actor: TEST_ACTOR });
      expect(result.migratedForward).to.equal(false);
      expect(await tenantRows(plane.tp, 'acme')).to.deep.equal(before);
      const after = await tenantRows(plane.tp, 'globex');
      for (const table of Object.keys(after)) {
        expect(after[table], table).to.deep.equal(neighbour[table]);
      }
      const audit = await plane.tp.knex('audit_log').where({ action: 'tenant.restore', tenant_id: 'acme' });
      expect(audit).to.have.length(1);
    });

    it('backs up and restores a dedicated tenant, compressed', async () => {
      const before = await tenantRows(plane.tp, 'initech');
      const backup = await backupTenant(deps, 'initech', newArchiveId(), { compress: true });
      await tenantQuery(plane.tp, 'initech', "DELETE FROM workflows WHERE tenant_id = 'initech'");
      await seedTenantRows(plane.tp, 'initech', 3, 'later');
      const verified = await verifyBackup(deps, 'initech', backup.id);
      expect(verified.tables.workflows).to.equal(40);
      await restoreTenant(deps, 'initech', backup.id, { actor: TEST_ACTOR });
      expect(await tenantRows(plane.tp, 'initech')).to.deep.equal(before);
      // Loading may lift FORCE for its transaction (a non-superuser admin): it is back on every table.
      const security = await adminQuery<{ forced: boolean }>(
        `${plane.prefix}_t_initech`,
        `SELECT bool_and(relrowsecurity AND relforcerowsecurity) AS forced FROM pg_class
          WHERE relname IN ('users', 'deployments', 'workflows', 'audit_events')`,
      );
      expect(security.rows[0]!.forced).to.equal(true);
      // The tables were truncated in the restore's transaction, so their rows went in frozen: every page
      // of every restored table is all-frozen in the visibility map.
      await adminQuery(`${plane.prefix}_t_initech`, 'CREATE EXTENSION IF NOT EXISTS pg_visibility');
      const unfrozen = await adminQuery<{ table: string; pages: number }>(
        `${plane.prefix}_t_initech`,
        `SELECT t AS table, (SELECT count(*) FROM pg_visibility_map(t::regclass) WHERE NOT all_frozen)::int AS pages
           FROM unnest(ARRAY['users', 'deployments', 'workflows', 'audit_events']) AS t`,
      );
      expect(unfrozen.rows.filter((row) => row.pages > 0)).to.deep.equal([]);
    });

    it('restores into a new tenant with the tenant id rewritten', async () => {
      const backup = await backupTenant(deps, 'initech', newArchiveId());
      const result = await restoreTenant(deps, 'initech', backup.id, {
        into: 'initech-copy',
        tier: 'enterprise',
        actor: TEST_ACTOR,
      });
      expect(result.restoredInto).to.equal('initech-copy');
      const original = await tenantRows(plane.tp, 'initech');
      const copy = await tenantRows(plane.tp, 'initech-copy');
      expect(copy).to.deep.equal(original);
      expect((await plane.tp.catalog.requireTenant('initech-copy')).status).to.equal('active');
    });

    it('refuses to restore a shard tenant into a new tenant beside its own rows, and removes that tenant', async () => {
      const backup = await backupTenant(deps, 'acme', newArchiveId());
      const error = await rejection<TenantplaneError>(
        restoreTenant(deps, 'acme', backup.id, { into: 'acme-copy', tier: 'starter', actor: TEST_ACTOR }),
      );
      expect(error.code).to.equal('restore_ids_collide');
      expect((await plane.tp.catalog.getTenant('acme-copy'))?.status ?? 'deleted').to.equal('deleted');
      expect((await tenantRows(plane.tp, 'acme')).users).to.have.length(50);
    });

    describe('refuses a damaged or foreign backup and leaves the target untouched', () => {
      let backupId: string;
      let pristine: Buffer;
      let file: string;
      let current: Record<string, string[]>;

      before(async () => {
        const backup = await backupTenant(deps, 'globex', newArchiveId(), { compress: false });
        backupId = backup.id;
        file = objectFile(backup.objectKey);
        pristine = await readFile(file);
        // Frames of 64 KiB: make sure there are several.
        await seedTenantRows(plane.tp, 'globex', 1, 'after');
        current = await tenantRows(plane.tp, 'globex');
      });
      afterEach(async () => {
        await writeFile(file, pristine);
        expect(await tenantRows(plane.tp, 'globex')).to.deep.equal(current);
      });

      const headerEnd = () => MAGIC.length + 4 + pristine.readUInt32BE(MAGIC.length) + 16;
      const frames = () => {
        const offsets: Array<{ start: number; end: number }> = [];
        for (let at = headerEnd(); at < pristine.length; ) {
          const end = at + 4 + pristine.readUInt32BE(at) + 16;
          offsets.push({ start: at, end });
          at = end;
        }
        return offsets;
      };
      const refuse = async (bytes: Buffer, code: string) => {
        await writeFile(file, bytes);
        expect((await rejection<TenantplaneError>(verifyBackup(deps, 'globex', backupId))).code).to.equal(
          code,
        );
        expect(
          (await rejection<TenantplaneError>(restoreTenant(deps, 'globex', backupId, { actor: TEST_ACTOR })))
            .code,
        ).to.equal(code);
      };
      const flip = (offset: number) => {
        const copy = Buffer.from(pristine);
        copy[offset] = copy[offset]! ^ 0x01;
        return copy;
      };

      it('a flipped byte in the header', async () => {
        await refuse(flip(MAGIC.length + 10), 'backup_corrupt');
      });
      it('a flipped byte in a frame', async () => {
        await refuse(flip(frames()[0]!.start + 30), 'backup_corrupt');
      });
      it('a flipped byte in the tail', async () => {
        await refuse(flip(pristine.length - 3), 'backup_corrupt');
      });
      it('a dropped last frame', async () => {
        const all = frames();
        await refuse(pristine.subarray(0, all.at(-1)!.start), 'backup_corrupt');
      });
      it('swapped frames', async () => {
        const all = frames();
        expect(all.length).to.be.greaterThan(1);
        const [a, b] = [all[0]!, all[1]!];
        const swapped = Buffer.concat([
          pristine.subarray(0, a.start),
          pristine.subarray(b.start, b.end),
          pristine.subarray(a.start, a.end),
          pristine.subarray(b.end),
        ]);
        await refuse(swapped, 'backup_corrupt');
      });
      it('another tenant’s backup in its place', async () => {
        const other = await backupTenant(deps, 'acme', newArchiveId());
        await refuse(await readFile(objectFile(other.objectKey)), 'backup_corrupt');
      });
      it('another backup of the same tenant in its place (its encryption context names another backup)', async () => {
        const other = await backupTenant(deps, 'globex', newArchiveId());
        await refuse(await readFile(objectFile(other.objectKey)), 'backup_corrupt');
      });
      it('a backup made under another master key', async () => {
        const otherDir = await mkdtemp(path.join(os.tmpdir(), 'tenantplane-keys-'));
        try {
          const otherKeys = await LocalKeyProvider.load(otherDir);
          await rejection<TenantplaneError>(
            restoreTenant({ ...deps, keys: otherKeys }, 'globex', backupId, { actor: TEST_ACTOR }),
          );
          const error = await rejection<TenantplaneError>(
            verifyBackup({ ...deps, keys: otherKeys }, 'globex', backupId),
          );
          expect(error.code).to.equal('key_unwrap_failed');
        } finally {
          await rm(otherDir, { recursive: true, force: true });
        }
      });
      it('a backup id of another tenant', async () => {
        const other = await backupTenant(deps, 'acme', newArchiveId());
        const error = await rejection<TenantplaneError>(
          restoreTenant(deps, 'globex', other.id, { actor: TEST_ACTOR }),
        );
        expect(error.code).to.equal('backup_not_found');
      });
    });
  });
}
