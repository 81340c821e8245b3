import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { FileObjectStore } from '../src/backup/file-object-store.js';
import { type ObjectStore, writeOnce } from '../src/backup/object-store.js';
import { S3ObjectStore } from '../src/backup/s3-object-store.js';
import { ABANDONED_UPLOAD_AGE_MS, backupScheduleHandlers } from '../src/backup/schedules/backup-scheduler.js';
import {
  BACKUP_SCHEDULE_QUEUE,
  type TickData,
  type TickResult,
} from '../src/backup/schedules/schedule-tick.js';
import type { TenantplaneError } from '../src/errors/index.js';
import type { Tenantplane } from '../src/tenantplane.js';
import { collect, rejection } from './support/async-helpers.js';
import { type Moto, startMoto } from './support/moto.js';
import { createTestPlane, type TestPlane } from './support/test-plane.js';

const DAY_MS = 24 * 3_600_000;

/** The cutoff the schedule's tick sweeps with. */
const tickCutoff = () => new Date(Date.now() - ABANDONED_UPLOAD_AGE_MS);

/** Every file under `root`, hidden ones included, as sorted paths relative to it. */
async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
    .sort();
}

/** A file as a killed put leaves it (its exact temporary name), last written `ageMs` ago. */
async function leftover(root: string, name: string, ageMs: number): Promise<string> {
  const file = path.join(root, name);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, randomBytes(100));
  await age(file, ageMs);
  return name;
}

async function age(file: string, ageMs: number): Promise<void> {
  const when = new Date(Date.now() - ageMs);
  await utimes(file, when, when);
}

async function text(stream: Readable): Promise<string> {
  return (await collect(stream)).toString('utf8');
}

/** Starts a put whose body stays open, and answers once its temporary file is on disk. */
async function putUnderWay(store: ObjectStore, root: string, key: string) {
  const body = new PassThrough();
  const done = store.put(key, body);
  done.catch(() => {});
  body.write(Buffer.from('first half;'));
  const folder = path.join(root, path.dirname(key));
  for (let i = 0; ; i += 1) {
    const names = await readdir(folder).catch(() => [] as string[]);
    const temporary = names.find((name) => name.startsWith(`.${path.basename(key)}.`));
    if (temporary) return { body, done, temporary: path.join(path.dirname(key), temporary) };
    if (i > 200) throw new Error(`the put of ${key} never wrote its temporary file`);
    await sleep(10);
  }
}

describe('abandoned uploads', () => {
  describe('file store', () => {
    let root: string;
    let store: FileObjectStore;

    beforeEach(async () => {
      root = await mkdtemp(path.join(os.tmpdir(), 'tenantplane-abandoned-'));
      store = new FileObjectStore(root);
    });
    afterEach(async () => {
      await rm(root, { recursive: true, force: true });
    });

    it('removes temporary files older than the cutoff, and keeps fresh ones, objects and other files', async () => {
      await store.put('tenants/acme/full.bin', Readable.from([Buffer.from('full')]));
      await store.put('top.bin', Readable.from([Buffer.from('top')]));
      // An object whose name merely ends in '.partial' is an object.
      await store.put('tenants/acme/report.partial', Readable.from([Buffer.from('report')]));
      for (const key of ['tenants/acme/full.bin', 'top.bin', 'tenants/acme/report.partial']) {
        await age(path.join(root, key), 3 * DAY_MS);
      }
      const old = [
        await leftover(root, 'tenants/acme/.full.bin.0123456789ab.partial', 2 * DAY_MS),
        await leftover(root, '.top.bin.a1b2c3d4e5f6.partial', 2 * DAY_MS),
      ];
      const kept = [
        await leftover(root, 'tenants/acme/.next.bin.00112233aabb.partial', 0),
        // Hidden, old, but not a name put() makes.
        await leftover(root, 'tenants/acme/.notes', 2 * DAY_MS),
        await leftover(root, 'tenants/acme/.full.bin.partial', 2 * DAY_MS),
        await leftover(root, 'tenants/acme/.full.bin.0123456789ab.partial.bak', 2 * DAY_MS),
        // Inside a hidden folder, which no key has: not the store's.
        await leftover(root, '.trash/.full.bin.0123456789ab.partial', 2 * DAY_MS),
      ];
      const before = await filesUnder(root);
      for (const file of old) expect(before).to.include(file);

      expect(await store.sweepAbandonedUploads(tickCutoff())).to.equal(2);

      const objects = ['tenants/acme/full.bin', 'tenants/acme/report.partial', 'top.bin'];
      expect(await filesUnder(root)).to.deep.equal([...objects, ...kept].sort());
      expect(await text(await store.get('tenants/acme/full.bin'))).to.equal('full');
      expect(await text(await store.get('top.bin'))).to.equal('top');
      expect(await text(await store.get('tenants/acme/report.partial'))).to.equal('report');
      expect((await store.list('')).map((object) => object.key)).to.deep.equal(objects);
      // Nothing more to do.
      expect(await store.sweepAbandonedUploads(tickCutoff())).to.equal(0);
    });

    it('leaves the temporary file of a put under way, which then completes', async () => {
      const { body, done, temporary } = await putUnderWay(store, root, 'tenants/acme/slow.bin');
      expect(await store.sweepAbandonedUploads(tickCutoff())).to.equal(0);
      expect(await filesUnder(root)).to.deep.equal([temporary]);
      body.end(Buffer.from('second half'));
      expect((await done).size).to.equal('first half;second half'.length);
      expect(await text(await store.get('tenants/acme/slow.bin'))).to.equal('first half;second half');
      expect(await filesUnder(root)).to.deep.equal(['tenants/acme/slow.bin']);
    });

    it('recognises the temporary file a real put writes, once it is old', async () => {
      const { body, done, temporary } = await putUnderWay(store, root, 'tenants/acme/stalled.bin');
      await age(path.join(root, temporary), 2 * DAY_MS);
      expect(await store.sweepAbandonedUploads(tickCutoff())).to.equal(1);
      expect(await filesUnder(root)).to.deep.equal([]);
      // A put that did come back after a day finds its file gone and fails, leaving nothing under the key.
      body.end(Buffer.from('too late'));
      await rejection(done);
      expect(await store.head('tenants/acme/stalled.bin')).to.equal(undefined);
    });

    it('sweeps through a write-once wrapper, and finds nothing in a store never written to', async () => {
      await leftover(root, 'a/.x.bin.0123456789ab.partial', 2 * DAY_MS);
      expect(await writeOnce(store).sweepAbandonedUploads(tickCutoff())).to.equal(1);
      const empty = new FileObjectStore(path.join(root, 'never-written'));
      expect(await empty.sweepAbandonedUploads(tickCutoff())).to.equal(0);
    });

    it('refuses a cutoff that is not a valid date', async () => {
      const error = await rejection<TenantplaneError>(store.sweepAbandonedUploads(new Date(Number.NaN)));
      expect(error.code).to.equal('invalid_input');
    });
  });

  describe('S3 store', () => {
    let moto: Moto;
    let restoreEnv: () => void;
    let bucket: string;
    let client: S3Client;
    let store: S3ObjectStore;

    before(async function () {
      this.timeout(60_000);
      moto = await startMoto();
      restoreEnv = moto.applyEnv();
      bucket = await moto.createBucket();
      client = moto.s3();
      store = new S3ObjectStore({ bucket, prefix: 'backups/env-1' });
    });
    after(() => {
      store?.close();
      client?.destroy();
      restoreEnv?.();
    });

    /** A multipart upload begun with one part and never completed, as a killed put leaves it. */
    async function killedUpload(key: string): Promise<string> {
      const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      await client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: created.UploadId,
          PartNumber: 1,
          Body: randomBytes(1024),
        }),
      );
      return created.UploadId!;
    }

    async function openUploads(): Promise<Array<{ key: string; id: string; initiated: Date }>> {
      const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      return (listed.Uploads ?? [])
        .map((upload) => ({ key: upload.Key!, id: upload.UploadId!, initiated: upload.Initiated! }))
        .sort((a, b) => (a.key < b.key ? -1 : 1));
    }

    it('aborts incomplete uploads under its prefix started before the cutoff, and touches no object', async () => {
      await store.put('tenants/acme/full.bin', Readable.from([Buffer.from('complete')]));
      const abandoned = await killedUpload('backups/env-1/tenants/acme/killed.bin');
      // Another store's uploads: a prefix that merely starts the same, and one outside any prefix.
      const neighbour = await killedUpload('backups/env-10/tenants/acme/theirs.bin');
      const outside = await killedUpload('elsewhere/theirs.bin');
      const initiated = (await openUploads()).find((upload) => upload.id === abandoned)!.initiated;

      // Cutoffs are taken from S3's own Initiated (moto reports the same fixed time for every upload): an
      // upload started at the cutoff or after is not older than it, and stays.
      expect(await store.sweepAbandonedUploads(initiated)).to.equal(0);
      expect((await openUploads()).map((upload) => upload.id)).to.have.members([
        abandoned,
        neighbour,
        outside,
      ]);

      expect(await store.sweepAbandonedUploads(new Date(initiated.getTime() + 1000))).to.equal(1);
      expect((await openUploads()).map((upload) => upload.id)).to.have.members([neighbour, outside]);
      expect(await text(await store.get('tenants/acme/full.bin'))).to.equal('complete');
      expect((await store.list('')).map((object) => object.key)).to.deep.equal(['tenants/acme/full.bin']);

      // With a cutoff a minute ahead, every upload open under the prefix is old; through writeOnce too.
      const second = await killedUpload('backups/env-1/tenants/beta/killed.bin');
      expect(await writeOnce(store).sweepAbandonedUploads(new Date(Date.now() + 60_000))).to.equal(1);
      expect((await openUploads()).map((upload) => upload.id)).to.not.include(second);
      expect(await store.sweepAbandonedUploads(new Date(Date.now() + 60_000))).to.equal(0);
      expect(await text(await store.get('tenants/acme/full.bin'))).to.equal('complete');
    });
  });

  describe("the schedule's tick", () => {
    let plane: TestPlane<Tenantplane>;

    before(async () => {
      plane = await createTestPlane({ serveTraffic: false });
    });
    after(async () => {
      await plane?.close();
    });

    it("sweeps the backup store on a process's first tick, keeping uploads younger than a day", async () => {
      // Without BACKUP_URL the backups live in a folder under the data folder.
      const root = path.join(plane.dataDir, 'backups');
      await plane.tp.objectStore.put('tenants/acme/full.bin', Readable.from([Buffer.from('kept')]));
      const old = await leftover(root, 'tenants/acme/.killed.bin.0123456789ab.partial', DAY_MS + 60_000);
      const young = await leftover(root, 'tenants/acme/.slow.bin.0123456789ab.partial', DAY_MS - 60_000);
      expect(await filesUnder(root)).to.include(old);

      const tick = backupScheduleHandlers({ backups: plane.tp.backups, jobs: plane.tp.jobs })[
        BACKUP_SCHEDULE_QUEUE
      ] as (data: TickData) => Promise<TickResult>;
      expect((await tick({})).ran).to.equal(true);
      expect(await filesUnder(root)).to.deep.equal([young, 'tenants/acme/full.bin']);
    });
  });
});
