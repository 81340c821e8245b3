import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import { FileObjectStore } from './file-object-store.js';
import type { ObjectStore } from './object-store.js';
import { S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.js';

/**
 * The store BACKUP_URL names: `s3://bucket/prefix` or `file:///path`; unset, a folder under the data
 * folder (development). Anything else fails at start with a message naming BACKUP_URL.
 */
export function openObjectStore(
  backupUrl: string | undefined,
  dataDir: string,
  s3Options: Omit<S3ObjectStoreOptions, 'bucket' | 'prefix'> = {},
): ObjectStore {
  if (backupUrl === undefined) return new FileObjectStore(path.join(dataDir, 'backups'));
  let url: URL;
  try {
    url = new URL(backupUrl);
  } catch {
    throw new ConfigError(
      `BACKUP_URL ${JSON.stringify(backupUrl)} is not a URL: use s3://bucket/prefix or file:///path`,
    );
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new ConfigError('BACKUP_URL must not carry credentials, a query or a fragment');
  }
  if (url.protocol === 's3:') {
    if (!url.hostname) throw new ConfigError('BACKUP_URL s3:// needs a bucket: s3://bucket/prefix');
    try {
      return S3ObjectStore.fromUrl(url, s3Options);
    } catch (error) {
      throw new ConfigError(`BACKUP_URL: ${(error as Error).message}`);
    }
  }
  if (url.protocol === 'file:') {
    if (url.host) throw new ConfigError('BACKUP_URL file:// must be an absolute path: file:///path');
    return new FileObjectStore(fileURLToPath(url));
  }
  throw new ConfigError(
    `BACKUP_URL scheme ${url.protocol} is not supported: use s3://bucket/prefix or file:///path`,
  );
}
