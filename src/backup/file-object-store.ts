import { randomBytes } from 'node:crypto';
import { createWriteStream, type Dirent } from 'node:fs';
import { link, lstat, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { NotFoundError, ObjectExistsError } from '../errors/index.js';
import { assertObjectKey, assertObjectPrefix } from './object-key.js';
import {
  assertSweepCutoff,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type StoredObject,
} from './object-store.js';
import { RunningDigest } from './running-digest.js';

/**
 * The name of a put's temporary file, exactly as temporaryNameFor makes it: '.', the final name (key
 * characters), 12 hex digits, '.partial'. No key segment starts with '.', so nothing stored matches.
 */
const TEMPORARY_NAME = /^\.[a-z0-9._-]+\.[0-9a-f]{12}\.partial$/;

/**
 * Objects as files under a folder (`file:///path`). A put writes a hidden temporary file beside the final
 * name, fsyncs it, renames it into place and fsyncs the folder, so a crash leaves either the old object or
 * the new one, never a torn file under the key. A write-once put (`ifAbsent`) hard-links the temporary
 * file to the final name instead, which fails rather than replace a file that is there.
 */
export class FileObjectStore implements ObjectStore {
  readonly location: string;

  constructor(private readonly root: string) {
    this.root = path.resolve(root);
    this.location = pathToFileURL(this.root).href;
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<StoredObject> {
    const file = this.pathOf(key);
    const directory = path.dirname(file);
    await mkdir(directory, { recursive: true });
    const temporary = path.join(directory, temporaryNameFor(file));
    const digest = new RunningDigest();
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        digest.update(chunk);
        callback(null, chunk);
      },
    });
    try {
      await pipeline(body, tap, createWriteStream(temporary, { flags: 'wx', mode: 0o600 }));
      await fsync(temporary, 'r+');
      if (options.ifAbsent) await this.publishOnce(temporary, file, key);
      else await rename(temporary, file);
    } catch (error) {
      await unlink(temporary).catch(() => {});
      throw error;
    }
    await fsync(directory, 'r');
    return { key, size: digest.size, sha256: digest.hex() };
  }

  async get(key: string): Promise<Readable> {
    try {
      // Opening first turns a missing file into NotFoundError here rather than into a stream error later.
      const handle = await open(this.pathOf(key), 'r');
      return handle.createReadStream();
    } catch (error) {
      if (isMissing(error)) throw new NotFoundError(`no object ${key} in ${this.location}`);
      throw error;
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { key, size: info.size, lastModified: info.mtime } : undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertObjectPrefix(prefix);
    // Only the folder the prefix points into can hold matches; no need to walk the whole store.
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const found: ObjectInfo[] = [];
    const walk = async (relative: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(path.join(this.root, relative), { withFileTypes: true });
      } catch (error) {
        if (isMissing(error)) return;
        throw error;
      }
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue;
        const key = relative === '' ? entry.name : `${relative}/${entry.name}`;
        if (entry.isDirectory()) {
          if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(key);
        } else if (entry.isFile() && key.startsWith(prefix)) {
          const info = await stat(path.join(this.root, key));
          found.push({ key, size: info.size, lastModified: info.mtime });
        }
      }
    };
    await walk(base);
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.pathOf(key));
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  /**
   * Unlinks the temporary files of puts that never finished (their process was killed) last written before
   * `olderThan`. A put under way keeps writing its file, so its mtime stays recent. Only names put() makes
   * are looked at, and hidden folders (no key has one) are not entered.
   */
  async sweepAbandonedUploads(olderThan: Date): Promise<number> {
    assertSweepCutoff(olderThan);
    let removed = 0;
    const walk = async (folder: string): Promise<void> => {
      for (const entry of await entriesOf(folder)) {
        const file = path.join(folder, entry.name);
        if (entry.isDirectory() && !entry.name.startsWith('.')) await walk(file);
        else if (entry.isFile() && TEMPORARY_NAME.test(entry.name)) {
          if (await unlinkIfOlder(file, olderThan)) removed += 1;
        }
      }
    };
    await walk(this.root);
    return removed;
  }

  /**
   * Gives the finished temporary file its final name, and no other, unless a file has it already: the
   * temporary name is gone once this resolves. link(2) never replaces
   * its target, so of writers racing for one key exactly one succeeds. A filesystem without hard links
   * falls back to a look before the rename, which only a writer racing in between could get past.
   */
  private async publishOnce(temporary: string, file: string, key: string): Promise<void> {
    try {
      await link(temporary, file);
      await unlink(temporary);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new ObjectExistsError(key, this.location);
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw error;
    }
    if (await this.head(key)) throw new ObjectExistsError(key, this.location);
    await rename(temporary, file);
  }

  private pathOf(key: string): string {
    return path.join(this.root, assertObjectKey(key));
  }
}

/** Hidden beside the final name, unique per put, and matched by TEMPORARY_NAME. */
function temporaryNameFor(file: string): string {
  return `.${path.basename(file)}.${randomBytes(6).toString('hex')}.partial`;
}

/** The folder's entries; none when it is gone (a sweep racing a delete of the last object in it). */
async function entriesOf(folder: string): Promise<Dirent[]> {
  try {
    return await readdir(folder, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
}

/** True when the file was last modified before `cutoff` and is now removed; a file already gone is fine. */
async function unlinkIfOlder(file: string, cutoff: Date): Promise<boolean> {
  try {
    if ((await lstat(file)).mtimeMs >= cutoff.getTime()) return false;
    await unlink(file);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

async function fsync(file: string, flags: string): Promise<void> {
  const handle = await open(file, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
