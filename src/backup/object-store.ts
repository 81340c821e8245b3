import type { Readable } from 'node:stream';

/** What a finished upload left behind. */
export interface StoredObject {
  key: string;
  /** Bytes stored. */
  size: number;
  /** Hex SHA-256 of the bytes stored, computed while they streamed. */
  sha256: string;
}

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
}

/**
 * Where exports and backups live: S3 (`s3://bucket/prefix`) or a folder (`file:///path`). Keys are
 * relative to the store's prefix and are built by tenantplane, never taken from a request.
 *
 * `put` is all or nothing: until it resolves, nothing is visible under the key (an S3 multipart upload
 * that fails is aborted; a file is written beside its final name and renamed into place).
 */
export interface ObjectStore {
  /** A printable location of the store, without credentials (for logs and manifests). */
  readonly location: string;
  put(key: string, body: Readable): Promise<StoredObject>;
  /** The object's bytes; rejects with a NotFoundError when there is no such key. */
  get(key: string): Promise<Readable>;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Objects whose key starts with `prefix`, in key order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Removes the object; no error when it is already gone. */
  delete(key: string): Promise<void>;
}
