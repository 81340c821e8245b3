import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect } from 'chai';
import {
  createDecryptStream,
  createEncryptStream,
  encryptionContext,
} from '../src/backup/envelope-format.js';
import { KmsKeyProvider } from '../src/backup/kms-key-provider.js';
import { KeyUnwrapError, type TenantplaneError, UnavailableError } from '../src/errors/index.js';
import { collect, rejection } from './support/async-helpers.js';
import { closedEndpoint, type Moto, startMoto } from './support/moto.js';

describe('KMS key provider', () => {
  let moto: Moto;
  let restoreEnv: () => void;
  let keyId: string;
  let keys: KmsKeyProvider;
  const providers: KmsKeyProvider[] = [];
  const context = encryptionContext('acme', 'b-1');

  before(async function () {
    this.timeout(60_000);
    moto = await startMoto();
    restoreEnv = moto.applyEnv();
    keyId = await moto.createKmsKey();
    keys = new KmsKeyProvider({ keyId });
    providers.push(keys);
  });

  after(() => {
    for (const provider of providers) provider.close();
    restoreEnv?.();
  });

  it('makes a 32-byte data key and unwraps it under the same context', async () => {
    const dataKey = await keys.generateDataKey(context);
    expect(dataKey.plaintext).to.have.length(32);
    expect(dataKey.wrapped.equals(dataKey.plaintext)).to.equal(false);
    expect(dataKey.keyId).to.include(keyId);
    const unwrapped = await keys.decryptDataKey(dataKey.wrapped, dataKey.keyId, { ...context });
    expect(unwrapped.equals(dataKey.plaintext)).to.equal(true);
  });

  it('refuses to unwrap under another tenant, another backup or no context', async () => {
    const dataKey = await keys.generateDataKey(context);
    for (const other of [encryptionContext('other', 'b-1'), encryptionContext('acme', 'b-2'), {}]) {
      const error = await rejection(keys.decryptDataKey(dataKey.wrapped, dataKey.keyId, other));
      expect(error).to.be.instanceOf(KeyUnwrapError);
      expect((error as TenantplaneError).code).to.equal('key_unwrap_failed');
    }
  });

  it('refuses a tampered wrapped key', async () => {
    const dataKey = await keys.generateDataKey(context);
    const tampered = Buffer.from(dataKey.wrapped);
    tampered[tampered.length - 1] ^= 1;
    const error = await rejection(keys.decryptDataKey(tampered, dataKey.keyId, context));
    expect((error as TenantplaneError).code).to.equal('key_unwrap_failed');
  });

  it('names an unknown key as unusable, not as a bad backup', async () => {
    const missing = new KmsKeyProvider({ keyId: '00000000-0000-4000-8000-000000000000' });
    providers.push(missing);
    const error = await rejection(missing.generateDataKey(context));
    expect((error as TenantplaneError).code).to.equal('kms_key_unusable');
  });

  it('turns an unreachable KMS into the retryable kms_unavailable error', async () => {
    const unreachable = new KmsKeyProvider({
      keyId,
      client: { endpoint: await closedEndpoint(), maxAttempts: 2 },
    });
    providers.push(unreachable);
    for (const attempt of [
      () => unreachable.generateDataKey(context),
      () => unreachable.decryptDataKey(Buffer.alloc(64), keyId, context),
    ]) {
      const error = await rejection(attempt());
      expect(error).to.be.instanceOf(UnavailableError);
      expect((error as UnavailableError).code).to.equal('kms_unavailable');
      expect((error as UnavailableError).status).to.equal(503);
      expect(error.cause).to.be.instanceOf(Error);
    }
  });

  it('encrypts and decrypts a backup in the envelope format through KMS', async () => {
    const plaintext = randomBytes(200_000);
    const { stream, header } = await createEncryptStream({
      keys,
      tenantId: 'acme',
      backupId: 'b-kms',
      schemaVersion: '0004',
      frameSize: 16_384,
    });
    const [, encrypted] = await Promise.all([pipeline(Readable.from([plaintext]), stream), collect(stream)]);
    expect(header.keyId).to.include(keyId);

    const decrypt = createDecryptStream({ keys, expected: { tenantId: 'acme', backupId: 'b-kms' } });
    const [, decrypted] = await Promise.all([
      pipeline(Readable.from([encrypted]), decrypt),
      collect(decrypt),
    ]);
    expect(decrypted.equals(plaintext)).to.equal(true);

    // The same bytes claimed as another backup are refused before any plaintext comes out.
    const foreign = createDecryptStream({ keys, expected: { tenantId: 'acme', backupId: 'b-other' } });
    const error = await rejection(
      Promise.all([pipeline(Readable.from([encrypted]), foreign), collect(foreign)]),
    );
    expect((error as TenantplaneError).code).to.equal('backup_corrupt');
  });
});
