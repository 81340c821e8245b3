import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { FileObjectStore } from '../src/backup/file-object-store.js';
import type { ObjectStore } from '../src/backup/object-store.js';
import { openObjectStore } from '../src/backup/object-store-factory.js';
import { S3ObjectStore } from '../src/backup/s3-object-store.js';
import { TenantplaneError } from '../src/errors/index.js';
import { rejection } from './support/async-helpers.js';
import { startFailingProxy } from './support/failing-proxy.js';
import { closedEndpoint, type Moto, startMoto } from './support/moto.js';

const MIB = 1024 * 1024;

/** A generated body streamed in 1 MiB chunks (never held whole), failing after `failAfter` bytes if set. */
function generatedBody(bytes: number, failAfter?: number): { body: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  let sent = 0;
  const body = new Readable({
    read() {
      if (failAfter !== undefined && sent >= failAfter) {
        this.destroy(new Error('source failed midway'));
        return;
      }
      if (sent >= bytes) {
        this.push(null);
        return;
      }
      const chunk = randomBytes(Math.min(MIB, bytes - sent));
      hash.update(chunk);
      sent += chunk.length;
      this.push(chunk);
    },
  });
  return { body, sha256: () => hash.digest('hex') };
}

async function sha256Of(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The behaviour every ObjectStore must have; `extra` adds the store-specific checks. */
function objectStoreSuite(
  name: string,
  open: () => Promise<{ store: ObjectStore; leftovers: (key: string) => Promise<string[]> }>,
) {
  describe(name, () => {
    let store: ObjectStore;
    let leftovers: (key: string) => Promise<string[]>;

    before(async () => {
      ({ store, leftovers } = await open());
    });

    it('round-trips a 20 MiB body streamed in parts, with its SHA-256 and size', async function () {
      this.timeout(120_000);
      const { body, sha256 } = generatedBody(20 * MIB);
      const stored = await store.put('tenants/acme/big.bin', body);
      const expected = sha256();
      expect(stored).to.deep.equal({ key: 'tenants/acme/big.bin', size: 20 * MIB, sha256: expected });
      expect(await sha256Of(await store.get('tenants/acme/big.bin'))).to.deep.equal({
        sha256: expected,
        size: 20 * MIB,
      });
      expect((await store.head('tenants/acme/big.bin'))?.size).to.equal(20 * MIB);
    });

    it('round-trips a small body and an empty one', async () => {
      const stored = await store.put('tenants/acme/small.txt', Readable.from([Buffer.from('hello')]));
      expect(stored.size).to.equal(5);
      expect(stored.sha256).to.equal(createHash('sha256').update('hello').digest('hex'));
      expect(await text(await store.get('tenants/acme/small.txt'))).to.equal('hello');
      const empty = await store.put('tenants/acme/empty', Readable.from([]));
      expect(empty.size).to.equal(0);
      expect(await text(await store.get('tenants/acme/empty'))).to.equal('');
    });

    it('lists by prefix in key order, heads and deletes', async () => {
      for (const key of ['list/b/2', 'list/a/1', 'list/b/1', 'list/bb']) {
        await store.put(key, Readable.from([Buffer.from(key)]));
      }
      expect((await store.list('list/b/')).map((o) => o.key)).to.deep.equal(['list/b/1', 'list/b/2']);
      expect((await store.list('list/b')).map((o) => o.key)).to.deep.equal([
        'list/b/1',
        'list/b/2',
        'list/bb',
      ]);
      expect((await store.list('list/')).map((o) => o.key)).to.deep.equal([
        'list/a/1',
        'list/b/1',
        'list/b/2',
        'list/bb',
      ]);
      expect(await store.list('nothing-here/')).to.deep.equal([]);
      const head = await store.head('list/a/1');
      expect(head?.size).to.equal(8);
      expect(head?.lastModified).to.be.instanceOf(Date);
      await store.delete('list/a/1');
      expect(await store.head('list/a/1')).to.equal(undefined);
      await store.delete('list/a/1');
      expect((await store.list('list/')).map((o) => o.key)).to.deep.equal([
        'list/b/1',
        'list/b/2',
        'list/bb',
      ]);
    });

    it('answers a missing key with NotFoundError on get and undefined on head', async () => {
      const error = await rejection(store.get('missing/key'));
      expect(error).to.be.instanceOf(TenantplaneError);
      expect((error as TenantplaneError).code).to.equal('not_found');
      expect(await store.head('missing/key')).to.equal(undefined);
    });

    it('leaves nothing under the key when the body fails midway, and keeps the previous object', async function () {
      this.timeout(120_000);
      const fresh = generatedBody(20 * MIB, 12 * MIB);
      const error = await rejection(store.put('failing/new.bin', fresh.body));
      expect(error.message).to.equal('source failed midway');
      expect(await store.head('failing/new.bin')).to.equal(undefined);
      expect(await store.list('failing/')).to.deep.equal([]);
      expect(await leftovers('failing/new.bin')).to.deep.equal([]);

      await store.put('failing/old.txt', Readable.from([Buffer.from('previous')]));
      const again = generatedBody(20 * MIB, 9 * MIB);
      await rejection(store.put('failing/old.txt', again.body));
      expect(await text(await store.get('failing/old.txt'))).to.equal('previous');
      expect(await leftovers('failing/old.txt')).to.deep.equal([]);
    });

    it("refuses keys with '..', absolute paths and characters outside [a-z0-9._/-]", async () => {
      for (const key of ['../escape', 'a/../../b', '/etc/passwd', 'a//b', 'A/b', 'a/.hidden', 'a b', '']) {
        const error = await rejection(store.put(key, Readable.from([Buffer.from('x')])));
        expect((error as TenantplaneError).code, key).to.equal('invalid_object_key');
        expect((await rejection(store.get(key))) as TenantplaneError).to.have.property(
          'code',
          'invalid_object_key',
        );
      }
      expect(((await rejection(store.list('../'))) as TenantplaneError).code).to.equal('invalid_object_key');
    });
  });
}

describe('object stores', () => {
  let root: string;
  let moto: Moto;
  let restoreEnv: () => void;
  let bucket: string;
  const opened: S3ObjectStore[] = [];

  before(async function () {
    this.timeout(60_000);
    root = await mkdtemp(path.join(os.tmpdir(), 'tenantplane-objects-'));
    moto = await startMoto();
    restoreEnv = moto.applyEnv();
    bucket = await moto.createBucket();
  });

  after(async () => {
    for (const store of opened) store.close();
    restoreEnv?.();
    await rm(root, { recursive: true, force: true });
  });

  objectStoreSuite('file store', async () => {
    const store = new FileObjectStore(path.join(root, 'store'));
    return {
      store,
      // A failed put must not leave its temporary file beside the key either.
      leftovers: async (key) => {
        const folder = path.join(root, 'store', path.dirname(key));
        const names = await readdir(folder).catch(() => [] as string[]);
        return names.filter((name) => name.startsWith(`.${path.basename(key)}.`));
      },
    };
  });

  objectStoreSuite('S3 store', async () => {
    const store = new S3ObjectStore({ bucket, prefix: 'backups/env-1' });
    opened.push(store);
    const client = moto.s3();
    return {
      store,
      // Multipart uploads still open for the key: an aborted upload must not linger (it would be billed).
      leftovers: async (key) => {
        const open = await client.send(
          new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `backups/env-1/${key}` }),
        );
        return (open.Uploads ?? []).map((upload) => upload.UploadId!);
      },
    };
  });

  describe('S3 specifics', () => {
    it('aborts the upload when S3 fails a part, leaving nothing under the key', async function () {
      this.timeout(120_000);
      // Every attempt at part 2 fails with a 500, the SDK's retries included.
      const proxy = await startFailingProxy(
        moto.endpoint,
        (request) => request.method === 'PUT' && /[?&]partNumber=2(&|$)/.test(request.url ?? ''),
      );
      const store = new S3ObjectStore({ bucket, prefix: 'faulty', client: { endpoint: proxy.endpoint } });
      opened.push(store);
      try {
        const { body } = generatedBody(30 * MIB);
        const error = (await rejection(store.put('part-fails.bin', body))) as TenantplaneError;
        expect(error.code).to.equal('storage_unavailable');
        expect(proxy.failed).to.be.greaterThan(0);
      } finally {
        await proxy.close();
      }
      const client = moto.s3();
      const open = await client.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'faulty/part-fails.bin' }),
      );
      expect(open.Uploads ?? []).to.deep.equal([]);
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'faulty/' }));
      expect(listed.Contents ?? []).to.deep.equal([]);
    });

    it('stores under the prefix with a SHA-256 checksum S3 verified', async () => {
      const store = new S3ObjectStore({ bucket, prefix: 'pre/fix' });
      opened.push(store);
      await store.put('one.txt', Readable.from([Buffer.from('checksummed')]));
      const client = moto.s3();
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'pre/' }));
      expect((listed.Contents ?? []).map((o) => o.Key)).to.deep.equal(['pre/fix/one.txt']);
      const head = await client.send(
        new HeadObjectCommand({ Bucket: bucket, Key: 'pre/fix/one.txt', ChecksumMode: 'ENABLED' }),
      );
      expect(head.ChecksumSHA256).to.equal(createHash('sha256').update('checksummed').digest('base64'));
      expect((await store.list('')).map((o) => o.key)).to.deep.equal(['one.txt']);
    });

    it('sees a multipart upload left open, so the leftover check above can fail', async () => {
      const client = moto.s3();
      const created = await client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'backups/env-1/probe/open.bin' }),
      );
      const open = await client.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'backups/env-1/probe/open.bin' }),
      );
      expect((open.Uploads ?? []).map((upload) => upload.UploadId)).to.deep.equal([created.UploadId]);
      await client.send(
        new AbortMultipartUploadCommand({
          Bucket: bucket,
          Key: 'backups/env-1/probe/open.bin',
          UploadId: created.UploadId,
        }),
      );
    });

    it('pages through more than one list page', async function () {
      this.timeout(60_000);
      const store = new S3ObjectStore({ bucket, prefix: 'many' });
      opened.push(store);
      const keys = Array.from({ length: 1005 }, (_, i) => `k/${String(i).padStart(4, '0')}`);
      for (let i = 0; i < keys.length; i += 50) {
        await Promise.all(
          keys.slice(i, i + 50).map((key) => store.put(key, Readable.from([Buffer.from('x')]))),
        );
      }
      expect((await store.list('k/')).map((o) => o.key)).to.deep.equal(keys);
    });

    it('turns an unreachable endpoint into a retryable storage_unavailable error', async () => {
      const store = new S3ObjectStore({
        bucket,
        client: { endpoint: await closedEndpoint(), maxAttempts: 1 },
      });
      opened.push(store);
      const error = (await rejection(store.head('x'))) as TenantplaneError;
      expect(error.code).to.equal('storage_unavailable');
      expect(error.status).to.equal(503);
    });
  });

  describe('openObjectStore', () => {
    it('uses <dataDir>/backups when BACKUP_URL is unset', () => {
      const store = openObjectStore(undefined, root);
      expect(store).to.be.instanceOf(FileObjectStore);
      expect(store.location).to.equal(`file://${path.join(root, 'backups')}`);
    });

    it('opens file:// and s3:// URLs', () => {
      expect(openObjectStore(`file://${root}/elsewhere`, root).location).to.equal(`file://${root}/elsewhere`);
      const s3 = openObjectStore('s3://my-bucket/tenant-backups/', root);
      expect(s3).to.be.instanceOf(S3ObjectStore);
      expect(s3.location).to.equal('s3://my-bucket/tenant-backups');
      (s3 as S3ObjectStore).close();
    });

    it('refuses other schemes and malformed URLs with a message naming BACKUP_URL', () => {
      for (const url of [
        'ftp://host/x',
        'not a url',
        's3:///no-bucket',
        'file://host/x',
        's3://user:pw@b/x',
      ]) {
        expect(() => openObjectStore(url, root), url)
          .to.throw(TenantplaneError, /BACKUP_URL/)
          .with.property('code', 'invalid_config');
      }
    });
  });
});
