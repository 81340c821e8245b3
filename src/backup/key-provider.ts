import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KeyUnwrapError } from '../errors/index.js';

/** Names what a data key may be used for; the wrapped key opens only under the same context. */
export type EncryptionContext = Record<string, string>;

export interface DataKey {
  /** 32 bytes for AES-256-GCM; keep it in memory only. */
  plaintext: Buffer;
  /** The data key encrypted under the master key, stored beside the data. */
  wrapped: Buffer;
  /** Which master key wrapped it. */
  keyId: string;
}

/** Envelope encryption's master-key side: AWS KMS in production, a local key file in development. */
export interface KeyProvider {
  generateDataKey(context: EncryptionContext): Promise<DataKey>;
  decryptDataKey(wrapped: Buffer, keyId: string, context: EncryptionContext): Promise<Buffer>;
}

/** The context as bytes, independent of key order, so the same context always authenticates the same. */
export function canonicalContext(context: EncryptionContext): Buffer {
  const sorted = Object.keys(context)
    .sort()
    .map((key) => [key, context[key]]);
  return Buffer.from(JSON.stringify(sorted), 'utf8');
}

const LOCAL_KEY_ID = 'local:v1';

/**
 * Development only: wraps data keys with AES-256-GCM under a master key kept in a file under the data
 * folder, with the encryption context as authenticated data, mirroring what KMS does.
 */
export class LocalKeyProvider implements KeyProvider {
  private constructor(private readonly masterKey: Buffer) {}

  static async load(dataDir: string): Promise<LocalKeyProvider> {
    const file = path.join(dataDir, 'backup-master.key');
    await mkdir(dataDir, { recursive: true });
    try {
      await writeFile(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      // Created before, possibly by another process at the same moment: use what is there.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
    if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte key`);
    return new LocalKeyProvider(key);
  }

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    const plaintext = randomBytes(32);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.masterKey, iv);
    cipher.setAAD(canonicalContext(context));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { plaintext, wrapped: Buffer.concat([iv, cipher.getAuthTag(), body]), keyId: LOCAL_KEY_ID };
  }

  async decryptDataKey(wrapped: Buffer, keyId: string, context: EncryptionContext): Promise<Buffer> {
    if (keyId !== LOCAL_KEY_ID)
      throw new KeyUnwrapError(`data key was wrapped by ${keyId}, not the local key`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.masterKey, wrapped.subarray(0, 12));
      decipher.setAAD(canonicalContext(context));
      decipher.setAuthTag(wrapped.subarray(12, 28));
      return Buffer.concat([decipher.update(wrapped.subarray(28)), decipher.final()]);
    } catch (error) {
      throw new KeyUnwrapError(
        'the data key does not open under this master key and encryption context',
        error,
      );
    }
  }
}
