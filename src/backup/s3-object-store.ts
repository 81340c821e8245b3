import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  S3Client,
  type S3ClientConfig,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import {
  ConfigError,
  NotFoundError,
  ObjectExistsError,
  TenantplaneError,
  UnavailableError,
} from '../errors/index.js';
import { awsErrorName, awsStatus, isTransientAwsError } from './aws-errors.js';
import { assertObjectKey, assertObjectPrefix } from './object-key.js';
import {
  assertSweepCutoff,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type StoredObject,
} from './object-store.js';
import { RunningDigest } from './running-digest.js';

const MIB = 1024 * 1024;
/** S3's smallest part (but the last) and most parts per upload. */
const MIN_PART_BYTES = 5 * MIB;
const MAX_PARTS = 10_000;

/** An incomplete multipart upload as ListMultipartUploads reports it. */
interface OpenUpload {
  key: string;
  uploadId: string;
  initiated: Date;
}

export interface S3ObjectStoreOptions {
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing '/'. Default: none. */
  prefix?: string;
  /** Bytes per uploaded part (at least 5 MiB). Default 8 MiB. */
  partSize?: number;
  /** Parts uploading at once; memory stays under (partsInFlight + 1) × part size. Default 4. */
  partsInFlight?: number;
  /**
   * Extra S3 client settings. Region, endpoint and credentials otherwise come from the SDK's standard
   * environment (`AWS_REGION`, `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, ...).
   */
  client?: S3ClientConfig;
}

/**
 * Objects in S3 (`s3://bucket/prefix`). Large bodies go up as a multipart upload streamed part by part,
 * each part with a SHA-256 checksum S3 verifies; any failure aborts the upload, so a key never shows a
 * partial object. A write-once put (`ifAbsent`) sends `If-None-Match: *` with the PutObject or the
 * CompleteMultipartUpload that would make the object visible, so S3 itself refuses to replace one.
 */
export class S3ObjectStore implements ObjectStore {
  readonly location: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly partsInFlight: number;

  constructor(options: S3ObjectStoreOptions) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
      throw new ConfigError(`S3 bucket name ${JSON.stringify(options.bucket)} is not valid`);
    }
    const prefix = options.prefix ?? '';
    if (prefix !== '') assertObjectKey(prefix);
    this.partSize = options.partSize ?? 8 * MIB;
    this.partsInFlight = options.partsInFlight ?? 4;
    if (!Number.isInteger(this.partSize) || this.partSize < MIN_PART_BYTES) {
      throw new ConfigError(`S3 part size must be an integer of at least ${MIN_PART_BYTES} bytes`);
    }
    if (!Number.isInteger(this.partsInFlight) || this.partsInFlight < 1) {
      throw new ConfigError('S3 parts in flight must be a positive integer');
    }
    this.bucket = options.bucket;
    this.prefix = prefix;
    this.location = `s3://${this.bucket}${prefix ? `/${prefix}` : ''}`;
    // The SDK's own variables, which it reads itself (not through loadConfig): looked at here only to match
    // its choice of endpoint with path-style addressing.
    const endpointOverride = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
    this.client = new S3Client({
      // Emulators and most S3-compatible stores address buckets by path, not by host name.
      forcePathStyle: Boolean(endpointOverride || options.client?.endpoint),
      maxAttempts: 3,
      ...options.client,
    });
  }

  /** `s3://bucket` or `s3://bucket/some/prefix`. */
  static fromUrl(url: URL, options: Omit<S3ObjectStoreOptions, 'bucket' | 'prefix'> = {}): S3ObjectStore {
    const prefix = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
    return new S3ObjectStore({ ...options, bucket: url.hostname, prefix });
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<StoredObject> {
    const objectKey = this.keyOf(key);
    const condition = options.ifAbsent ? { IfNoneMatch: '*' } : {};
    const digest = new RunningDigest();
    let buffered: Buffer[] = [];
    let bufferedBytes = 0;
    let upload: MultipartUpload | undefined;
    try {
      for await (const chunk of body) {
        const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        digest.update(bytes);
        buffered.push(bytes);
        bufferedBytes += bytes.length;
        if (bufferedBytes >= this.partSizeFor(upload?.partCount ?? 0)) {
          upload ??= await MultipartUpload.start(
            this.client,
            this.bucket,
            objectKey,
            this.partsInFlight,
            condition,
          );
          // Waits while the in-flight parts are full, which stops reading the body: memory stays bounded.
          await upload.add(Buffer.concat(buffered, bufferedBytes));
          buffered = [];
          bufferedBytes = 0;
        }
      }
      const rest = Buffer.concat(buffered, bufferedBytes);
      if (upload) {
        if (rest.length > 0) await upload.add(rest);
        await upload.complete();
      } else {
        await this.call(`put ${key}`, () =>
          this.client.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key: objectKey,
              Body: rest,
              ChecksumAlgorithm: 'SHA256',
              ChecksumSHA256: createHash('sha256').update(rest).digest('base64'),
              ...condition,
            }),
          ),
        );
      }
    } catch (error) {
      await upload?.abort();
      if (options.ifAbsent && awsStatus(error) === 412) throw new ObjectExistsError(key, this.location);
      throw this.mapped(`put ${key}`, error);
    }
    return { key, size: digest.size, sha256: digest.hex() };
  }

  async get(key: string): Promise<Readable> {
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }),
      );
      return response.Body as Readable;
    } catch (error) {
      if (awsErrorName(error) === 'NoSuchKey' || awsStatus(error) === 404) {
        throw new NotFoundError(`no object ${key} in ${this.location}`);
      }
      throw this.mapped(`get ${key}`, error);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const response = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }),
      );
      return { key, size: response.ContentLength ?? 0, lastModified: response.LastModified ?? new Date(0) };
    } catch (error) {
      if (awsStatus(error) === 404) return undefined;
      throw this.mapped(`head ${key}`, error);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    assertObjectPrefix(prefix);
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    const found: ObjectInfo[] = [];
    try {
      const pages = paginateListObjectsV2(
        { client: this.client },
        { Bucket: this.bucket, Prefix: this.prefix ? `${this.prefix}/${prefix}` : prefix },
      );
      for await (const page of pages) {
        for (const object of page.Contents ?? []) {
          found.push({
            key: object.Key!.slice(strip),
            size: object.Size ?? 0,
            lastModified: object.LastModified ?? new Date(0),
          });
        }
      }
    } catch (error) {
      throw this.mapped(`list ${prefix}`, error);
    }
    return found;
  }

  async delete(key: string): Promise<void> {
    await this.call(`delete ${key}`, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) })),
    );
  }

  /**
   * Aborts the multipart uploads under the store's prefix started before `olderThan`: those of processes
   * killed mid-put (a put that fails aborts its own). Their parts are billed until aborted, and a bucket
   * may have no lifecycle rule (AbortIncompleteMultipartUpload) to do it.
   */
  async sweepAbandonedUploads(olderThan: Date): Promise<number> {
    assertSweepCutoff(olderThan);
    let removed = 0;
    for await (const upload of this.openUploads()) {
      if (upload.initiated.getTime() >= olderThan.getTime()) continue;
      if (await this.abortUpload(upload)) removed += 1;
    }
    return removed;
  }

  close(): void {
    this.client.destroy();
  }

  /**
   * Every incomplete multipart upload under the prefix, page by page. The markers name the last upload
   * seen, not a position, so aborting uploads between pages skips none.
   */
  private async *openUploads(): AsyncGenerator<OpenUpload> {
    // With its '/', the prefix `tp` never reaches the uploads of a store at `tp2`.
    const prefix = this.prefix ? `${this.prefix}/` : undefined;
    let markers: { KeyMarker?: string; UploadIdMarker?: string } = {};
    for (;;) {
      const page = await this.call('list multipart uploads', () =>
        this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix, ...markers }),
        ),
      );
      for (const upload of page.Uploads ?? []) {
        if (upload.Key === undefined || upload.UploadId === undefined || upload.Initiated === undefined)
          continue;
        yield { key: upload.Key, uploadId: upload.UploadId, initiated: upload.Initiated };
      }
      // A truncated page without a marker to go on from would list the first page again, forever.
      if (!page.IsTruncated || page.NextKeyMarker === undefined) return;
      markers = { KeyMarker: page.NextKeyMarker, UploadIdMarker: page.NextUploadIdMarker };
    }
  }

  /** True when this call aborted it; false when it was completed or aborted meanwhile. */
  private async abortUpload(upload: OpenUpload): Promise<boolean> {
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: upload.key, UploadId: upload.uploadId }),
      );
      return true;
    } catch (error) {
      if (awsErrorName(error) === 'NoSuchUpload' || awsStatus(error) === 404) return false;
      throw this.mapped(`abort upload of ${upload.key}`, error);
    }
  }

  /** Doubles every 1,000 parts so no body can reach S3's 10,000-part limit (8 MiB parts: 1.9 TiB+). */
  private partSizeFor(partsSoFar: number): number {
    return this.partSize * 2 ** Math.floor(partsSoFar / (MAX_PARTS / 10));
  }

  private keyOf(key: string): string {
    assertObjectKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private async call<T>(what: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw this.mapped(what, error);
    }
  }

  private mapped(what: string, error: unknown): unknown {
    if (error instanceof TenantplaneError) return error;
    // S3's answer to a conditional write racing another write of the key: worth trying again.
    if (isTransientAwsError(error) || awsErrorName(error) === 'ConditionalRequestConflict') {
      return new UnavailableError(
        `object store ${this.location} is unavailable (${what})`,
        'storage_unavailable',
        {
          cause: error,
          retryAfterSeconds: 5,
        },
      );
    }
    return error;
  }
}

/** One multipart upload: parts go up a few at a time; the first failure is kept and reported. */
class MultipartUpload {
  partCount = 0;
  private readonly parts: CompletedPart[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;

  private constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly key: string,
    private readonly uploadId: string,
    private readonly maxInFlight: number,
    /** Sent with CompleteMultipartUpload: `If-None-Match: *` for a write-once put. */
    private readonly condition: { IfNoneMatch?: string },
  ) {}

  static async start(
    client: S3Client,
    bucket: string,
    key: string,
    maxInFlight: number,
    condition: { IfNoneMatch?: string } = {},
  ) {
    const created = await client.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ChecksumAlgorithm: 'SHA256' }),
    );
    return new MultipartUpload(client, bucket, key, created.UploadId!, maxInFlight, condition);
  }

  async add(body: Buffer): Promise<void> {
    this.throwIfFailed();
    while (this.inFlight.size >= this.maxInFlight) {
      await Promise.race(this.inFlight);
      this.throwIfFailed();
    }
    if (this.partCount >= MAX_PARTS) throw new Error(`object ${this.key} needs more than ${MAX_PARTS} parts`);
    this.partCount += 1;
    const partNumber = this.partCount;
    const checksum = createHash('sha256').update(body).digest('base64');
    // Never rejects: a failure is recorded and surfaces on the next add or on complete.
    const sending: Promise<void> = this.client
      .send(
        new UploadPartCommand({
          Bucket: this.bucket,
          Key: this.key,
          UploadId: this.uploadId,
          PartNumber: partNumber,
          Body: body,
          ChecksumAlgorithm: 'SHA256',
          ChecksumSHA256: checksum,
        }),
      )
      .then(
        (response) => {
          this.parts.push({ PartNumber: partNumber, ETag: response.ETag, ChecksumSHA256: checksum });
        },
        (error: unknown) => {
          this.failure ??= error;
        },
      )
      .finally(() => this.inFlight.delete(sending));
    this.inFlight.add(sending);
  }

  async complete(): Promise<void> {
    await Promise.all(this.inFlight);
    this.throwIfFailed();
    this.parts.sort((a, b) => a.PartNumber! - b.PartNumber!);
    await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: this.key,
        UploadId: this.uploadId,
        MultipartUpload: { Parts: this.parts },
        ...this.condition,
      }),
    );
  }

  /** Waits for the parts still going up (so none lands after the abort), then aborts the upload. */
  async abort(): Promise<void> {
    await Promise.all(this.inFlight);
    await this.client
      .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId: this.uploadId }))
      .catch(() => {
        // Nothing more can be done here; S3 lifecycle rules (AbortIncompleteMultipartUpload) clean up.
      });
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
