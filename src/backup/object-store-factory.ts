import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, type TenantplaneError } from '../errors/index.js';
import { FileObjectStore } from './file-object-store.js';
import type { ObjectStore } from './object-store.js';
import { S3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.js';

/** Where a store's URL came from: the name its errors give it, and the error a bad one is. */
export interface StoreUrlSource {
  name: string;
  invalid(message: string): TenantplaneError;
}

/** The service's configuration: a bad BACKUP_URL fails at start. */
export const BACKUP_URL_SOURCE: StoreUrlSource = {
  name: 'BACKUP_URL',
  invalid: (message) => new ConfigError(message),
};

/**
 * The store BACKUP_URL names: `s3://bucket/prefix` or `file:///path`; unset, a folder under the data
 * folder (development). Anything else fails at start with a message naming BACKUP_URL, or, for a URL from
 * elsewhere, with `source`'s error naming it as `source` says.
 */
export function openObjectStore(
  backupUrl: string | undefined,
  dataDir: string,
  source: StoreUrlSource = BACKUP_URL_SOURCE,
  s3Options: Omit<S3ObjectStoreOptions, 'bucket' | 'prefix'> = {},
): ObjectStore {
  const { name } = source;
  if (backupUrl === undefined) return new FileObjectStore(path.join(dataDir, 'backups'));
  let url: URL;
  try {
    url = new URL(backupUrl);
  } catch {
    throw source.invalid(
      `${name} ${JSON.stringify(backupUrl)} is not a URL: use s3://bucket/prefix or file:///path`,
    );
  }
  if (url.username || url.password || url.search || url.hash) {
    throw source.invalid(`${name} must not carry credentials, a query or a fragment`);
  }
  if (url.protocol === 's3:') {
    if (!url.hostname) throw source.invalid(`${name} s3:// needs a bucket: s3://bucket/prefix`);
    try {
      return S3ObjectStore.fromUrl(url, s3Options);
    } catch (error) {
      throw source.invalid(`${name}: ${(error as Error).message}`);
    }
  }
  if (url.protocol === 'file:') {
    if (url.host) throw source.invalid(`${name} file:// must be an absolute path: file:///path`);
    return new FileObjectStore(fileURLToPath(url));
  }
  throw source.invalid(
    `${name} scheme ${url.protocol} is not supported: use s3://bucket/prefix or file:///path`,
  );
}
