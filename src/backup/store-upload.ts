import { PassThrough, type Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ObjectStore, PutOptions, StoredObject } from './object-store.js';

/**
 * Streams `source` through `transforms` into the store under `key`. A failure on either side fails the
 * whole upload, and the store's all-or-nothing `put` leaves nothing under the key (with `ifAbsent`, an
 * object already there stays as it was and the upload fails with ObjectExistsError).
 */
export async function uploadStream(
  store: ObjectStore,
  key: string,
  source: Readable,
  transforms: Transform[] = [],
  options: PutOptions = {},
): Promise<StoredObject> {
  const body = new PassThrough({ highWaterMark: 1024 * 1024 });
  const piping = pipeline([source, ...transforms, body]);
  const uploading = store.put(key, body, options);
  try {
    const [stored] = await Promise.all([uploading, piping]);
    return stored;
  } catch (error) {
    // Whichever side failed first, stop the other and let it settle before reporting.
    source.destroy();
    body.destroy(error as Error);
    await Promise.allSettled([uploading, piping]);
    throw error;
  }
}
