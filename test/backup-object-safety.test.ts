import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { HeadObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { BackupCatalog } from '../src/backup/backup-catalog.js';
import { BACKUP_QUEUE, backupJobHandlers } from '../src/backup/backup-jobs.js';
import { verifyBackup } from '../src/backup/backup-reader.js';
import type { RequestJobData } from '../src/backup/backup-requests.js';
import { FileObjectStore } from '../src/backup/file-object-store.js';
import type { ObjectStore, PutOptions } from '../src/backup/object-store.js';
import { S3ObjectStore } from '../src/backup/s3-object-store.js';
import { backupObjectKey } from '../src/backup/tenant-backup.js';
import { newArchiveId } from '../src/backup/tenant-export.js';
import type { TenantplaneError } from '../src/errors/index.js';
import type { JobContext } from '../src/jobs/job-queue.js';
import type { Tenantplane } from '../src/tenantplane.js';
import { collect, rejection } from './support/async-helpers.js';
import { type Moto, startMoto } from './support/moto.js';
import { seedTenantRows } from './support/tenant-rows.js';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

const MIB = 1024 * 1024;
const TENANT = 'safeco';

/** What identifies one stored version of an object: its bytes, and the store's own version mark. */
interface Fingerprint {
  sha256: string;
  version: string;
}

interface Backend {
  name: string;
  /** Opens a plane whose BACKUP_URL is this backend, and a way to fingerprint its objects. */
  open(): Promise<{
    plane: TestPlane<Tenantplane>;
    version: (key: string) => Promise<string>;
    close(): Promise<void>;
  }>;
  /** A bare store of this backend for the store-level checks, and what it leaves beside its objects. */
  store(): Promise<{ store: ObjectStore; leftovers(): Promise<string[]>; close(): Promise<void> }>;
}

let moto: Moto | undefined;
const motoEnv = async () => {
  moto ??= await startMoto();
  return moto;
};

const backends: Backend[] = [
  {
    name: 'file storage',
    async open() {
      const plane = await createTestPlane({ serveTraffic: false });
      const root = path.join(plane.dataDir, 'backups');
      return {
        plane,
        // A rewrite, even of the same bytes, is a new file: another inode or modification time.
        version: async (key) => {
          const info = await stat(path.join(root, ...key.split('/')));
          return `${info.ino}:${info.mtimeMs}`;
        },
        close: () => plane.close(),
      };
    },
    async store() {
      const root = await mkdtemp(path.join(os.tmpdir(), 'tenantplane-once-'));
      const walk = async (directory: string): Promise<string[]> => {
        const found: string[] = [];
        for (const entry of await readdir(directory, { withFileTypes: true })) {
          const full = path.join(directory, entry.name);
          if (entry.isDirectory()) found.push(...(await walk(full)));
          else found.push(path.relative(root, full));
        }
        return found;
      };
      return {
        store: new FileObjectStore(root),
        leftovers: async () => (await walk(root)).filter((file) => path.basename(file).startsWith('.')),
        close: () => rm(root, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'S3 (moto)',
    async open() {
      const aws = await motoEnv();
      const undo = aws.applyEnv();
      const bucket = await aws.createBucket();
      const keyId = await aws.createKmsKey();
      const plane = await createTestPlane(
        { serveTraffic: false },
        { BACKUP_URL: `s3://${bucket}/tp`, KMS_KEY_ID: keyId },
      );
      const s3 = aws.s3();
      return {
        plane,
        version: async (key) => {
          const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `tp/${key}` }));
          return `${head.ETag}:${head.LastModified?.toISOString()}`;
        },
        async close() {
          s3.destroy();
          await plane.close();
          undo();
        },
      };
    },
    async store() {
      const aws = await motoEnv();
      const bucket = await aws.createBucket();
      const s3 = aws.s3();
      const store = new S3ObjectStore({
        bucket,
        prefix: 'once',
        partSize: 5 * MIB,
        client: {
          endpoint: aws.endpoint,
          region: 'us-east-1',
          credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
        },
      });
      return {
        store,
        leftovers: async () => {
          const open = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
          return (open.Uploads ?? []).map((upload) => `multipart upload of ${upload.Key}`);
        },
        async close() {
          store.close();
          s3.destroy();
        },
      };
    },
  },
];

async function sha256Of(store: ObjectStore, key: string): Promise<string> {
  return createHash('sha256')
    .update(await collect(await store.get(key)))
    .digest('hex');
}

/** A store whose puts wait, each, until the test lets them through. */
function gatedPuts(store: ObjectStore) {
  const original = store.put;
  const waiting: Array<{ key: string; release: () => void }> = [];
  const arrivals: Array<() => void> = [];
  store.put = async function (this: ObjectStore, key: string, body: Readable, options?: PutOptions) {
    await new Promise<void>((release) => {
      waiting.push({ key, release });
      arrivals.shift()?.();
    });
    return original.call(this, key, body, options);
  };
  return {
    /** Resolves once `count` puts are waiting. */
    async arrived(count: number) {
      while (waiting.length < count) await new Promise<void>((resolve) => arrivals.push(resolve));
    },
    release(index: number) {
      waiting[index]!.release();
    },
    restore() {
      store.put = original;
    },
  };
}

for (const backend of backends) {
  describe(`backup objects are never lost or overwritten once complete: ${backend.name}`, function () {
    this.timeout(90000);
    let plane: TestPlane<Tenantplane>;
    let version: (key: string) => Promise<string>;
    let close: () => Promise<void>;

    before(async () => {
      ({ plane, version, close } = await backend.open());
      await plane.addServer();
      await plane.tp.tenants.create({ id: TENANT, tier: 'enterprise' }, TEST_ACTOR);
      await seedTenantRows(plane.tp, TENANT, 50);
    });
    after(async () => close());

    const handler = () =>
      backupJobHandlers(plane.tp.backups)[BACKUP_QUEUE] as unknown as (
        data: RequestJobData,
        context: JobContext,
      ) => Promise<Record<string, unknown>>;
    const jobData = (): RequestJobData => ({
      requestId: newArchiveId(),
      tenantId: TENANT,
      params: {},
      actor: TEST_ACTOR,
      attempts: 3,
    });
    const attempt = (n: number): JobContext => ({ attempt: n, progress: async () => {} });
    const fingerprint = async (key: string): Promise<Fingerprint> => ({
      sha256: await sha256Of(plane.tp.objectStore, key),
      version: await version(key),
    });
    const row = (id: string) => plane.tp.backups.deps.backups.get(TENANT, id);

    it('a job delivered again after it completed returns the first result and leaves the object alone', async () => {
      const data = jobData();
      const key = backupObjectKey(TENANT, data.requestId);
      const first = await handler()(data, attempt(1));
      expect(first.state).to.equal('complete');
      const stored = await fingerprint(key);
      const again = await handler()(data, attempt(2));
      expect(again).to.deep.equal(first);
      expect(await fingerprint(key)).to.deep.equal(stored);
      // One backup, one audit entry, however many deliveries answered for it.
      const audited = await plane.tp
        .knex('audit_log')
        .where({ action: 'tenant.backup' })
        .whereRaw("details->>'backupId' = ?", [data.requestId]);
      expect(audited).to.have.length(1);
      expect((await verifyBackup(plane.tp.backups.deps, TENANT, data.requestId)).tables.users).to.equal(50);
    });

    it('a delivery that overlapped the first (a stalled job) neither overwrites nor deletes the completed object', async () => {
      const data = jobData();
      const key = backupObjectKey(TENANT, data.requestId);
      const gate = gatedPuts(plane.tp.objectStore);
      try {
        const first = handler()(data, attempt(1));
        await gate.arrived(1);
        // Redelivered while the first is still uploading, as its last attempt: both hold a pending row.
        const second = handler()(data, attempt(3));
        await gate.arrived(2);
        gate.release(0);
        const result = await first;
        expect(result.state).to.equal('complete');
        const stored = await fingerprint(key);
        gate.release(1);
        const [outcome] = await Promise.allSettled([second]);
        expect(await plane.tp.objectStore.head(key), 'the object is still there').to.not.equal(undefined);
        expect(await fingerprint(key)).to.deep.equal(stored);
        expect(outcome).to.deep.equal({ status: 'fulfilled', value: result });
        expect((await row(data.requestId))?.state).to.equal('complete');
        expect((await verifyBackup(plane.tp.backups.deps, TENANT, data.requestId)).tables.users).to.equal(50);
      } finally {
        gate.restore();
      }
    });

    it('giving up after the catalog said complete keeps the object', async () => {
      const data = jobData();
      const key = backupObjectKey(TENANT, data.requestId);
      const audit = plane.tp.catalog.audit;
      // The work is done and recorded; what fails is the step after it, on the job's last attempt.
      plane.tp.catalog.audit = async function (this: typeof plane.tp.catalog, ...args) {
        if (args[1] === 'tenant.backup') throw new Error('the audit log is unavailable');
        return audit.apply(this, args);
      };
      try {
        const error = await rejection(handler()(data, attempt(3)));
        expect(error.message).to.equal('the audit log is unavailable');
      } finally {
        plane.tp.catalog.audit = audit;
      }
      const backup = await row(data.requestId);
      expect(backup?.state).to.equal('complete');
      expect(await plane.tp.objectStore.head(key)).to.not.equal(undefined);
      expect((await verifyBackup(plane.tp.backups.deps, TENANT, data.requestId)).tables.users).to.equal(50);
    });

    it('giving up on a backup that never completed marks it failed and removes its object', async () => {
      const data = jobData();
      const key = backupObjectKey(TENANT, data.requestId);
      const complete = BackupCatalog.prototype.complete;
      BackupCatalog.prototype.complete = async () => {
        throw new Error('the catalog went away');
      };
      try {
        await rejection(handler()(data, attempt(3)));
      } finally {
        BackupCatalog.prototype.complete = complete;
      }
      expect((await row(data.requestId))?.state).to.equal('failed');
      expect(await plane.tp.objectStore.head(key)).to.equal(undefined);
    });

    it('a retry after an attempt died between storing the object and completing its row finishes with that object', async () => {
      const data = jobData();
      const key = backupObjectKey(TENANT, data.requestId);
      const complete = BackupCatalog.prototype.complete;
      BackupCatalog.prototype.complete = async () => {
        throw new Error('the worker died here');
      };
      try {
        await rejection(handler()(data, attempt(1)));
      } finally {
        BackupCatalog.prototype.complete = complete;
      }
      expect((await row(data.requestId))?.state).to.equal('pending');
      const stored = await fingerprint(key);
      const result = await handler()(data, attempt(2));
      expect(result.state).to.equal('complete');
      expect(result.sha256).to.equal(stored.sha256);
      expect(await fingerprint(key)).to.deep.equal(stored);
      const verified = await verifyBackup(plane.tp.backups.deps, TENANT, data.requestId);
      expect(verified.tables).to.deep.equal(verified.backup.rowCounts);
    });
  });

  describe(`put if absent: ${backend.name}`, function () {
    this.timeout(60000);
    let store: ObjectStore;
    let leftovers: () => Promise<string[]>;
    let close: () => Promise<void>;

    before(async () => {
      ({ store, leftovers, close } = await backend.store());
    });
    after(async () => close());

    for (const [label, size] of [
      ['a small body', 1000],
      ['a multipart body', 12 * MIB],
    ] as const) {
      it(`refuses to replace an object with ${label}, leaving the object and nothing else`, async () => {
        const key = `once/${randomBytes(4).toString('hex')}.bin`;
        const first = randomBytes(size);
        await store.put(key, Readable.from([first]), { ifAbsent: true });
        const error = await rejection<TenantplaneError>(
          store.put(key, Readable.from([randomBytes(size)]), { ifAbsent: true }),
        );
        expect([error.code, error.status]).to.deep.equal(['object_exists', 409]);
        expect(await sha256Of(store, key)).to.equal(createHash('sha256').update(first).digest('hex'));
        expect(await leftovers()).to.deep.equal([]);
        // Without the condition a put still replaces, as exports rely on.
        const replacement = randomBytes(size);
        await store.put(key, Readable.from([replacement]));
        expect(await sha256Of(store, key)).to.equal(createHash('sha256').update(replacement).digest('hex'));
      });
    }

    it('lets exactly one of two racing puts create the object', async () => {
      const key = `once/${randomBytes(4).toString('hex')}.bin`;
      const bodies = [randomBytes(64 * 1024), randomBytes(64 * 1024)];
      const outcomes = await Promise.allSettled(
        bodies.map((body) => store.put(key, Readable.from([body]), { ifAbsent: true })),
      );
      const won = outcomes.findIndex((outcome) => outcome.status === 'fulfilled');
      expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).to.have.length(1);
      const lost = outcomes[1 - won] as PromiseRejectedResult;
      expect((lost.reason as TenantplaneError).code).to.equal('object_exists');
      expect(await sha256Of(store, key)).to.equal(createHash('sha256').update(bodies[won]!).digest('hex'));
      expect(await leftovers()).to.deep.equal([]);
    });
  });
}
