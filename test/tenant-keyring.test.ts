import { execFile } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { verifyBackup } from '../src/backup/backup-reader.js';
import {
  createDecryptStream,
  createEncryptStream,
  encryptionContext,
} from '../src/backup/envelope-format.js';
import type { DataKey } from '../src/backup/key-provider.js';
import { KmsKeyProvider } from '../src/backup/kms-key-provider.js';
import { backupTenant } from '../src/backup/tenant-backup.js';
import { deleteTenant } from '../src/backup/tenant-deletion.js';
import { exportTenant, newArchiveId } from '../src/backup/tenant-export.js';
import { TenantKeyring } from '../src/backup/tenant-keyring.js';
import { restoreTenant } from '../src/backup/tenant-restore.js';
import type { TenantplaneError } from '../src/errors/index.js';
import type { ServingTenantplane } from '../src/tenantplane.js';
import { collect, rejection } from './support/async-helpers.js';
import { closedEndpoint, type Moto, startMoto } from './support/moto.js';
import { seedTenantRows } from './support/tenant-rows.js';
import { createTestPlane, devIssuerOf, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

const run = promisify(execFile);

describe('tenant keyring (crypto-shredding) over KMS', function () {
  this.timeout(60_000);
  let moto: Moto;
  let restoreEnv: () => void;
  let kmsKeyId: string;
  let plane: TestPlane;
  let tp: ServingTenantplane;
  let other: ServingTenantplane;

  async function keyRows(tenantId: string) {
    const result = await tp.knex('tenant_backup_keys').where({ tenant_id: tenantId });
    return result as Array<{ wrapped_key: Buffer | null; key_id: string | null; destroyed_at: Date | null }>;
  }

  async function opens(
    on: ServingTenantplane,
    key: DataKey,
    tenantId: string,
    backupId: string,
  ): Promise<boolean> {
    const plaintext = await on.backupKeys.decryptDataKey(
      key.wrapped,
      key.keyId,
      encryptionContext(tenantId, backupId),
    );
    return plaintext.equals(key.plaintext);
  }

  before(async () => {
    moto = await startMoto();
    restoreEnv = moto.applyEnv();
    kmsKeyId = await moto.createKmsKey();
    plane = await createTestPlane({}, { KMS_KEY_ID: kmsKeyId });
    tp = plane.tp;
    other = await plane.openAnother();
  });

  after(async () => {
    await plane?.close();
    restoreEnv?.();
  });

  it('wraps each tenant key with KMS and seals data keys with it', async () => {
    const key = await tp.backupKeys.generateDataKey(encryptionContext('acme', 'b-1'));
    expect(key.keyId).to.include(kmsKeyId);
    expect(await opens(tp, key, 'acme', 'b-1')).to.equal(true);
    const [row] = await keyRows('acme');
    expect(row!.key_id).to.include(kmsKeyId);
    expect(row!.wrapped_key).to.be.instanceOf(Buffer);
    // The stored blob is not what KMS wrapped: KMS alone cannot open it.
    const kms = new KmsKeyProvider({ keyId: kmsKeyId });
    try {
      const error = await rejection<TenantplaneError>(
        kms.decryptDataKey(key.wrapped, key.keyId, encryptionContext('acme', 'b-1')),
      );
      expect(error.code).to.equal('key_unwrap_failed');
    } finally {
      kms.close();
    }
  });

  it('makes one tenant key when first uses race, in one process and across two', async () => {
    const contexts = ['r-1', 'r-2', 'r-3', 'r-4'].map((id) => encryptionContext('racer', id));
    const keys = await Promise.all([
      tp.backupKeys.generateDataKey(contexts[0]!),
      other.backupKeys.generateDataKey(contexts[1]!),
      tp.backupKeys.generateDataKey(contexts[2]!),
      other.backupKeys.generateDataKey(contexts[3]!),
    ]);
    expect(await keyRows('racer')).to.have.length(1);
    // Every key, whichever process made it, opens in both: they all used the stored tenant key.
    for (const [index, key] of keys.entries()) {
      expect(await opens(tp, key, 'racer', `r-${index + 1}`)).to.equal(true);
      expect(await opens(other, key, 'racer', `r-${index + 1}`)).to.equal(true);
    }
  });

  it('refuses a data key under another tenant or backup', async () => {
    const key = await tp.backupKeys.generateDataKey(encryptionContext('acme', 'b-2'));
    for (const [tenantId, backupId] of [
      ['acme', 'b-3'],
      ['racer', 'b-2'],
    ] as const) {
      const error = await rejection<TenantplaneError>(
        tp.backupKeys.decryptDataKey(key.wrapped, key.keyId, encryptionContext(tenantId, backupId)),
      );
      expect(error.code).to.equal('key_unwrap_failed');
    }
  });

  it('after destroy, no backup of the tenant opens in any process; other tenants are untouched', async () => {
    const plaintext = Buffer.from('rows of the doomed tenant');
    const { stream } = await createEncryptStream({
      keys: tp.backupKeys,
      tenantId: 'doomed',
      backupId: 'b-9',
      schemaVersion: '0001',
    });
    const [, backup] = await Promise.all([pipeline(Readable.from([plaintext]), stream), collect(stream)]);
    const doomed = await tp.backupKeys.generateDataKey(encryptionContext('doomed', 'b-1'));
    const neighbour = await tp.backupKeys.generateDataKey(encryptionContext('neighbour', 'b-1'));
    // Both processes have the tenant key cached before the destroy.
    expect(await opens(tp, doomed, 'doomed', 'b-1')).to.equal(true);
    expect(await opens(other, doomed, 'doomed', 'b-1')).to.equal(true);

    const result = await tp.backupKeys.destroy('doomed');
    expect(result.destroyed).to.equal(true);

    for (const instance of [tp, other]) {
      const error = await rejection<TenantplaneError>(opens(instance, doomed, 'doomed', 'b-1'));
      expect(error.code).to.equal('tenant_key_destroyed');
      expect(error.message).to.match(/can no longer be decrypted/);
      const decrypt = createDecryptStream({
        keys: instance.backupKeys,
        expected: { tenantId: 'doomed', backupId: 'b-9' },
      });
      const streamed = await rejection<TenantplaneError>(
        Promise.all([pipeline(Readable.from([backup]), decrypt), collect(decrypt)]),
      );
      expect(streamed.code).to.equal('tenant_key_destroyed');
      expect(await opens(instance, neighbour, 'neighbour', 'b-1')).to.equal(true);
    }
    const [row] = await keyRows('doomed');
    expect(row!.wrapped_key).to.equal(null);
    expect(row!.destroyed_at).to.be.instanceOf(Date);
    // New backups of a shredded tenant are refused too, and destroying again changes nothing.
    const refused = await rejection<TenantplaneError>(
      other.backupKeys.generateDataKey(encryptionContext('doomed', 'b-10')),
    );
    expect(refused.code).to.equal('tenant_key_destroyed');
    const again = await other.backupKeys.destroy('doomed');
    expect(again).to.deep.equal({ destroyed: false, destroyedAt: row!.destroyed_at });
  });

  it('a fresh keyring (another process, empty cache) seals with the stored tenant key', async () => {
    const master = new KmsKeyProvider({ keyId: kmsKeyId });
    try {
      const fresh = new TenantKeyring({ knex: tp.knex, master, cacheSize: 1 });
      const key = await fresh.generateDataKey(encryptionContext('neighbour', 'b-2'));
      expect(await opens(other, key, 'neighbour', 'b-2')).to.equal(true);
    } finally {
      master.close();
    }
  });

  it('stores nothing when KMS is down at first use, and says KMS, not a destroyed key', async () => {
    const master = new KmsKeyProvider({
      keyId: kmsKeyId,
      client: { endpoint: await closedEndpoint(), maxAttempts: 1 },
    });
    try {
      const offline = new TenantKeyring({ knex: tp.knex, master });
      const first = await rejection<TenantplaneError>(
        offline.generateDataKey(encryptionContext('newcomer', 'b-1')),
      );
      expect(first.code).to.equal('kms_unavailable');
      expect(await keyRows('newcomer')).to.deep.equal([]);
      // An existing tenant key needs KMS to unwrap when it is not cached in this process.
      const key = await tp.backupKeys.generateDataKey(encryptionContext('neighbour', 'b-3'));
      const unwrap = await rejection<TenantplaneError>(
        offline.decryptDataKey(key.wrapped, key.keyId, encryptionContext('neighbour', 'b-3')),
      );
      expect(unwrap.code).to.equal('kms_unavailable');
    } finally {
      master.close();
    }
    // Once KMS answers, the first use goes through and makes the key.
    await tp.backupKeys.generateDataKey(encryptionContext('newcomer', 'b-1'));
    expect(await keyRows('newcomer')).to.have.length(1);
  });

  describe('reached through tenant deletion', () => {
    before(async () => {
      await plane.addServer();
      await tp.shards.add({ id: 'shard-1', serverId: 'pg-main' }, TEST_ACTOR);
    });

    it('DELETE /admin/v1/tenants/:id?destroy_backups=true shreds the keys after the delete, audited', async () => {
      await tp.tenants.create({ id: 'leaving-co', tier: 'starter' }, TEST_ACTOR);
      const key = await tp.backupKeys.generateDataKey(encryptionContext('leaving-co', 'b-1'));
      const base = await plane.listen();
      const token = await devIssuerOf(tp).mint({ admin: true });
      const headers = { authorization: `Bearer ${token}` };

      const bad = await fetch(`${base}/admin/v1/tenants/leaving-co?destroy_backups=yes`, {
        method: 'DELETE',
        headers,
      });
      expect(bad.status).to.equal(400);
      expect(await opens(tp, key, 'leaving-co', 'b-1')).to.equal(true);

      const response = await fetch(`${base}/admin/v1/tenants/leaving-co?destroy_backups=true`, {
        method: 'DELETE',
        headers,
      });
      expect(response.status).to.equal(200);
      const body = (await response.json()) as { status: string; backup_keys_destroyed: boolean };
      expect(body).to.include({ status: 'deleted', backup_keys_destroyed: true });
      expect((await rejection<TenantplaneError>(opens(other, key, 'leaving-co', 'b-1'))).code).to.equal(
        'tenant_key_destroyed',
      );

      const audit = await tp.catalog.listAudit({ tenantId: 'leaving-co', limit: 10 });
      expect(audit.map((entry) => entry.action).slice(0, 3)).to.deep.equal([
        'tenant.exports_removed',
        'tenant.backup_keys_destroyed',
        'tenant.delete',
      ]);
      expect(audit[1]!.details).to.include({ had_key_material: true });
      expect(audit[1]!.actor).to.match(/^token:/);
    });

    it('a real backup of a tenant deleted with its keys shredded can no longer be verified or restored', async () => {
      await tp.tenants.create({ id: 'shredded-co', tier: 'starter' }, TEST_ACTOR);
      await seedTenantRows(tp, 'shredded-co', 5, 'shredded');
      const deps = tp.backups.deps;
      const backup = await backupTenant(deps, 'shredded-co', newArchiveId());
      expect(backup.state).to.equal('complete');
      expect((await verifyBackup(deps, 'shredded-co', backup.id)).tables.deployments).to.equal(5);

      await deleteTenant(tp, { id: 'shredded-co', confirm: 'shredded-co', destroyBackups: true }, TEST_ACTOR);
      expect((await rejection<TenantplaneError>(verifyBackup(deps, 'shredded-co', backup.id))).code).to.equal(
        'tenant_key_destroyed',
      );
      const refused = await rejection<TenantplaneError>(
        restoreTenant(deps, 'shredded-co', backup.id, {
          into: 'revived-co',
          tier: 'starter',
          actor: TEST_ACTOR,
        }),
      );
      expect(refused.code).to.equal('tenant_key_destroyed');
      // The refused restore leaves no tenant behind.
      expect(await tp.catalog.getTenant('revived-co')).to.equal(undefined);
    });

    it('removes the tenant’s exports from the backup store with its keys, and nobody else’s', async () => {
      for (const id of ['exported-co', 'exported-co-two']) {
        await tp.tenants.create({ id, tier: 'starter' }, TEST_ACTOR);
        await seedTenantRows(tp, id, 3, 'exported');
        await exportTenant({ catalog: tp.catalog, store: tp.objectStore }, id, { exportId: newArchiveId() });
      }
      expect(await tp.objectStore.list('exports/exported-co/')).to.have.length.greaterThan(1);
      const deletion = await deleteTenant(
        tp,
        { id: 'exported-co', confirm: 'exported-co', destroyBackups: true },
        TEST_ACTOR,
      );
      expect(deletion.exportsRemoved).to.be.greaterThan(1);
      expect(await tp.objectStore.list('exports/exported-co/')).to.deep.equal([]);
      expect(await tp.objectStore.list('exports/exported-co-two/')).to.have.length.greaterThan(1);
      const audit = await tp.catalog.listAudit({ tenantId: 'exported-co', limit: 1 });
      expect(audit[0]).to.deep.include({ action: 'tenant.exports_removed' });
    });

    it('a plain delete keeps the backup keys', async () => {
      await tp.tenants.create({ id: 'keeps-co', tier: 'starter' }, TEST_ACTOR);
      const key = await tp.backupKeys.generateDataKey(encryptionContext('keeps-co', 'b-1'));
      const base = await plane.listen();
      const token = await devIssuerOf(tp).mint({ admin: true });
      const response = await fetch(`${base}/admin/v1/tenants/keeps-co`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.status).to.equal(200);
      expect(await opens(tp, key, 'keeps-co', 'b-1')).to.equal(true);
    });

    it('tenantctl tenants delete --destroy-backups shreds a tenant deleted earlier, audited', async () => {
      const key = await tp.backupKeys.generateDataKey(encryptionContext('keeps-co', 'b-2'));
      const { stdout } = await run(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/cli/main.ts',
          'tenants',
          'delete',
          'keeps-co',
          '--confirm',
          'keeps-co',
          '--destroy-backups',
          '--json',
        ],
        { env: plane.cliEnv({ ...moto.env, KMS_KEY_ID: kmsKeyId }) },
      );
      expect(JSON.parse(stdout)).to.include({
        id: 'keeps-co',
        status: 'deleted',
        backup_keys_destroyed: true,
      });
      expect((await rejection<TenantplaneError>(opens(tp, key, 'keeps-co', 'b-2'))).code).to.equal(
        'tenant_key_destroyed',
      );
      const [exportsRemoved, keysDestroyed] = await tp.catalog.listAudit({ tenantId: 'keeps-co', limit: 2 });
      expect([exportsRemoved?.action, keysDestroyed?.action]).to.deep.equal([
        'tenant.exports_removed',
        'tenant.backup_keys_destroyed',
      ]);
      expect(keysDestroyed?.actor).to.match(/^cli:/);
    });
  });
});
