import type { Readable } from 'node:stream';
import { InvalidInputError } from '../errors/index.js';

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

export interface PutOptions {
  /**
   * Write once: store the object only if nothing is stored under the key yet, else reject with
   * ObjectExistsError and leave the stored object as it was. Decided by the store itself, atomically
   * (S3 `If-None-Match: *`; a hard link that cannot replace a file), so of racing writers exactly one wins.
   */
  ifAbsent?: boolean;
}

/**
 * Where exports and backups live: S3 (`s3://bucket/prefix`) or a folder (`file:///path`). Keys are
 * relative to the store's prefix and are built by tenantplane, never taken from a request.
 *
 * `put` is all or nothing: until it resolves, nothing is visible under the key (an S3 multipart upload
 * that fails is aborted; a file is written beside its final name and renamed into place). With
 * `ifAbsent` it never replaces what is stored.
 */
export interface ObjectStore {
  /** A printable location of the store, without credentials (for logs and manifests). */
  readonly location: string;
  put(key: string, body: Readable, options?: PutOptions): Promise<StoredObject>;
  /** The object's bytes; rejects with a NotFoundError when there is no such key. */
  get(key: string): Promise<Readable>;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Objects whose key starts with `prefix`, in key order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Removes the object; no error when it is already gone. */
  delete(key: string): Promise<void>;
  /**
   * Removes what puts that never finished left behind (a process killed mid-upload: the file store's hidden
   * temporary files, S3's incomplete multipart uploads) if older than `olderThan`, and answers how many it
   * removed. Stored objects are never touched; the cutoff is what keeps an upload still under way safe, so
   * it must lie further back than any upload takes.
   */
  sweepAbandonedUploads(olderThan: Date): Promise<number>;
}

/** A sweep's cutoff: an invalid Date compares false with everything and would silently remove nothing. */
export function assertSweepCutoff(olderThan: Date): Date {
  if (!(olderThan instanceof Date) || Number.isNaN(olderThan.getTime())) {
    throw new InvalidInputError('the cutoff of a sweep of abandoned uploads must be a valid Date');
  }
  return olderThan;
}

/**
 * The store with every put made write-once (`ifAbsent`): what is stored through it is never replaced,
 * however often or concurrently the same key is written. Reads, lists, deletes and sweeps pass through.
 */
export function writeOnce(store: ObjectStore): ObjectStore {
  return {
    location: store.location,
    put: (key, body) => store.put(key, body, { ifAbsent: true }),
    get: (key) => store.get(key),
    head: (key) => store.head(key),
    list: (prefix) => store.list(prefix),
    delete: (key) => store.delete(key),
    sweepAbandonedUploads: (olderThan) => store.sweepAbandonedUploads(olderThan),
  };
}
