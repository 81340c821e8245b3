import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { BackupIntegrityError } from '../errors/index.js';
import type { EncryptionContext, KeyProvider } from './key-provider.js';

/**
 * The encrypted backup format, version 1:
 *
 *   "TPBK1\n" | u32 header length | header JSON | 16-byte header tag | frame* (the last one final)
 *   frame = u32 ciphertext length | ciphertext | 16-byte tag
 *
 * Each backup has its own AES-256 data key, wrapped by the key provider under an encryption context that
 * names the tenant and the backup. The header (format, tenant, backup id, schema version, wrapped key, key
 * id) is authenticated with the data key. Every frame's nonce and authenticated data carry its sequence
 * number, and its AAD also the backup id and whether it is the final frame, so a flipped byte, a dropped,
 * swapped or repeated frame, a truncated file or a frame from another backup are all detected.
 */
export const MAGIC = Buffer.from('TPBK1\n', 'utf8');
export const FORMAT_VERSION = 1;
const TAG_BYTES = 16;
const HEADER_SEQUENCE = 0xffffffff;
/** Plaintext bytes per frame. */
export const DEFAULT_FRAME_SIZE = 64 * 1024;
const MAX_HEADER_BYTES = 64 * 1024;

export interface BackupHeader {
  formatVersion: number;
  tenantId: string;
  backupId: string;
  schemaVersion: string;
  keyId: string;
  /** Base64 of the wrapped data key. */
  wrappedKey: string;
  /** Base64 of the 8 random bytes that start every nonce of this backup. */
  noncePrefix: string;
  frameSize: number;
}

export function encryptionContext(tenantId: string, backupId: string): EncryptionContext {
  return { purpose: 'tenantplane-backup', tenant_id: tenantId, backup_id: backupId };
}

function nonce(prefix: Buffer, sequence: number): Buffer {
  const value = Buffer.alloc(12);
  prefix.copy(value, 0, 0, 8);
  value.writeUInt32BE(sequence, 8);
  return value;
}

function frameAad(backupId: string, sequence: number, final: boolean): Buffer {
  const tail = Buffer.alloc(5);
  tail.writeUInt32BE(sequence, 0);
  tail.writeUInt8(final ? 1 : 0, 4);
  return Buffer.concat([Buffer.from(backupId, 'utf8'), tail]);
}

function headerTag(key: Buffer, prefix: Buffer, headerBytes: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, nonce(prefix, HEADER_SEQUENCE));
  cipher.setAAD(Buffer.concat([MAGIC, headerBytes]));
  cipher.final();
  return cipher.getAuthTag();
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value, 0);
  return buffer;
}

/** Encrypts a plaintext stream into the backup format with a fresh data key from the provider. */
export async function createEncryptStream(options: {
  keys: KeyProvider;
  tenantId: string;
  backupId: string;
  schemaVersion: string;
  frameSize?: number;
}): Promise<{ stream: Transform; header: BackupHeader }> {
  const dataKey = await options.keys.generateDataKey(encryptionContext(options.tenantId, options.backupId));
  const prefix = randomBytes(8);
  const frameSize = options.frameSize ?? DEFAULT_FRAME_SIZE;
  const header: BackupHeader = {
    formatVersion: FORMAT_VERSION,
    tenantId: options.tenantId,
    backupId: options.backupId,
    schemaVersion: options.schemaVersion,
    keyId: dataKey.keyId,
    wrappedKey: dataKey.wrapped.toString('base64'),
    noncePrefix: prefix.toString('base64'),
    frameSize,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  let sequence = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;

  const seal = (plaintext: Buffer, final: boolean): Buffer => {
    const cipher = createCipheriv('aes-256-gcm', dataKey.plaintext, nonce(prefix, sequence));
    cipher.setAAD(frameAad(options.backupId, sequence, final));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    sequence += 1;
    if (sequence >= HEADER_SEQUENCE) throw new Error('backup too large for one data key');
    return Buffer.concat([u32(body.length), body, cipher.getAuthTag()]);
  };

  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      try {
        pending.push(chunk);
        pendingBytes += chunk.length;
        while (pendingBytes > frameSize) {
          const all = Buffer.concat(pending);
          this.push(seal(all.subarray(0, frameSize), false));
          pending = [all.subarray(frameSize)];
          pendingBytes = all.length - frameSize;
        }
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback: TransformCallback) {
      try {
        // The last frame is always there and always marked final, even when empty.
        this.push(seal(Buffer.concat(pending), true));
        dataKey.plaintext.fill(0);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });
  stream.push(
    Buffer.concat([
      MAGIC,
      u32(headerBytes.length),
      headerBytes,
      headerTag(dataKey.plaintext, prefix, headerBytes),
    ]),
  );
  return { stream, header };
}

/** Reads a backup's header without decrypting anything (for listing and checks). */
export function parseHeader(
  buffer: Buffer,
): { header: BackupHeader; headerBytes: Buffer; end: number } | undefined {
  if (buffer.length < MAGIC.length + 4) return undefined;
  if (!buffer.subarray(0, MAGIC.length).equals(MAGIC))
    throw new BackupIntegrityError('not a tenantplane backup');
  const length = buffer.readUInt32BE(MAGIC.length);
  if (length > MAX_HEADER_BYTES) throw new BackupIntegrityError('backup header is too large');
  const end = MAGIC.length + 4 + length + TAG_BYTES;
  if (buffer.length < end) return undefined;
  const headerBytes = buffer.subarray(MAGIC.length + 4, MAGIC.length + 4 + length);
  let header: BackupHeader;
  try {
    header = JSON.parse(headerBytes.toString('utf8')) as BackupHeader;
  } catch (error) {
    throw new BackupIntegrityError('backup header is not readable', error);
  }
  if (header.formatVersion !== FORMAT_VERSION) {
    throw new BackupIntegrityError(`backup format ${header.formatVersion} is not supported`);
  }
  return { header, headerBytes, end };
}

/**
 * Decrypts and checks a backup stream, emitting plaintext as each frame is verified. `expected` pins the
 * tenant and backup the caller means to read: a backup of another tenant fails before any byte is emitted.
 * A stream that ends without its final frame fails in flush, so consumers must not act on the plaintext
 * until the stream has finished cleanly (restore loads it in a transaction it commits only then).
 */
export function createDecryptStream(options: {
  keys: KeyProvider;
  expected: { tenantId: string; backupId: string };
  onHeader?: (header: BackupHeader) => void;
}): Transform {
  let buffered = Buffer.alloc(0);
  let key: Buffer | undefined;
  let prefix: Buffer | undefined;
  let backupId = '';
  let sequence = 0;
  let finished = false;

  const openFrames = (push: (chunk: Buffer) => void) => {
    for (;;) {
      if (buffered.length < 4) return;
      const length = buffered.readUInt32BE(0);
      if (finished) throw new BackupIntegrityError('data follows the final frame');
      if (buffered.length < 4 + length + TAG_BYTES) return;
      const body = buffered.subarray(4, 4 + length);
      const tag = buffered.subarray(4 + length, 4 + length + TAG_BYTES);
      // A frame is final exactly when its AAD says so; try the non-final reading first.
      const plaintext = tryOpen(body, tag, false) ?? tryOpen(body, tag, true);
      if (plaintext === undefined) {
        throw new BackupIntegrityError(
          `frame ${sequence} does not authenticate (tampered, reordered or foreign)`,
        );
      }
      push(plaintext.data);
      finished = plaintext.final;
      sequence += 1;
      buffered = buffered.subarray(4 + length + TAG_BYTES);
    }
  };

  const tryOpen = (
    body: Buffer,
    tag: Buffer,
    final: boolean,
  ): { data: Buffer; final: boolean } | undefined => {
    try {
      const decipher = createDecipheriv('aes-256-gcm', key!, nonce(prefix!, sequence));
      decipher.setAAD(frameAad(backupId, sequence, final));
      decipher.setAuthTag(tag);
      return { data: Buffer.concat([decipher.update(body), decipher.final()]), final };
    } catch {
      return undefined;
    }
  };

  return new Transform({
    async transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      try {
        buffered = Buffer.concat([buffered, chunk]);
        if (!key) {
          const parsed = parseHeader(buffered);
          if (!parsed) return callback();
          const { header, headerBytes, end } = parsed;
          if (
            header.tenantId !== options.expected.tenantId ||
            header.backupId !== options.expected.backupId
          ) {
            throw new BackupIntegrityError(
              `backup belongs to ${header.tenantId}/${header.backupId}, not ${options.expected.tenantId}/${options.expected.backupId}`,
            );
          }
          key = await options.keys.decryptDataKey(
            Buffer.from(header.wrappedKey, 'base64'),
            header.keyId,
            encryptionContext(options.expected.tenantId, options.expected.backupId),
          );
          prefix = Buffer.from(header.noncePrefix, 'base64');
          backupId = options.expected.backupId;
          const expectedTag = headerTag(key, prefix, headerBytes);
          if (!expectedTag.equals(buffered.subarray(end - TAG_BYTES, end))) {
            throw new BackupIntegrityError('backup header does not authenticate');
          }
          options.onHeader?.(header);
          buffered = buffered.subarray(end);
        }
        openFrames((data) => this.push(data));
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback: TransformCallback) {
      if (!key) return callback(new BackupIntegrityError('backup ends inside its header'));
      if (!finished || buffered.length > 0) {
        return callback(new BackupIntegrityError('backup is truncated: its final frame is missing'));
      }
      key.fill(0);
      callback();
    },
  });
}
