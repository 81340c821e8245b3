import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect } from 'chai';
import { createDecryptStream, createEncryptStream, parseHeader } from '../src/backup/envelope-format.js';
import { LocalKeyProvider } from '../src/backup/key-provider.js';
import { TenantplaneError } from '../src/errors/index.js';

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Splits an encrypted backup into its header part and its frames, to tamper with them. */
function split(encrypted: Buffer): { head: Buffer; frames: Buffer[] } {
  const parsed = parseHeader(encrypted)!;
  const frames: Buffer[] = [];
  let offset = parsed.end;
  while (offset < encrypted.length) {
    const length = encrypted.readUInt32BE(offset);
    frames.push(encrypted.subarray(offset, offset + 4 + length + 16));
    offset += 4 + length + 16;
  }
  return { head: encrypted.subarray(0, parsed.end), frames };
}

describe('backup envelope format', () => {
  let dataDir: string;
  let otherDir: string;
  let keys: LocalKeyProvider;
  const plaintext = randomBytes(10_000);
  let encrypted: Buffer;

  async function encrypt(tenantId = 'acme', backupId = 'b-1'): Promise<Buffer> {
    const { stream } = await createEncryptStream({
      keys,
      tenantId,
      backupId,
      schemaVersion: '0002',
      frameSize: 1000,
    });
    const chunks = [plaintext.subarray(0, 3333), plaintext.subarray(3333, 3334), plaintext.subarray(3334)];
    const [, output] = await Promise.all([pipeline(Readable.from(chunks), stream), collect(stream)]);
    return output;
  }

  async function decrypt(data: Buffer, expected = { tenantId: 'acme', backupId: 'b-1' }, provider = keys) {
    const stream = createDecryptStream({ keys: provider, expected });
    const [, output] = await Promise.all([
      pipeline(Readable.from([data.subarray(0, 50), data.subarray(50)]), stream),
      collect(stream),
    ]);
    return output;
  }

  async function refused(
    data: Buffer,
    expected?: { tenantId: string; backupId: string },
    provider?: LocalKeyProvider,
  ) {
    try {
      await decrypt(data, expected, provider);
    } catch (error) {
      expect(error).to.be.instanceOf(TenantplaneError);
      return (error as TenantplaneError).code;
    }
    throw new Error('a damaged backup was accepted');
  }

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'envelope-'));
    otherDir = await mkdtemp(path.join(os.tmpdir(), 'envelope-other-'));
    keys = await LocalKeyProvider.load(dataDir);
    encrypted = await encrypt();
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
    await rm(otherDir, { recursive: true, force: true });
  });

  it('round-trips the data in authenticated frames with a readable header', async () => {
    expect(await decrypt(encrypted)).to.deep.equal(plaintext);
    const { header } = parseHeader(encrypted)!;
    expect(header).to.include({
      tenantId: 'acme',
      backupId: 'b-1',
      schemaVersion: '0002',
      keyId: 'local:v1',
    });
    expect(split(encrypted).frames).to.have.length(10);
    expect(encrypted.includes(plaintext.subarray(0, 32))).to.equal(false);
  });

  it('refuses a flipped byte in the header, a frame or the tail', async () => {
    const { head } = split(encrypted);
    for (const position of [10, head.length - 3, head.length + 20, encrypted.length - 1]) {
      const damaged = Buffer.from(encrypted);
      damaged[position]! ^= 0x01;
      expect(await refused(damaged), `byte ${position}`).to.be.oneOf(['backup_corrupt', 'key_unwrap_failed']);
    }
  });

  it('refuses a dropped final frame, swapped frames and data after the end', async () => {
    const { head, frames } = split(encrypted);
    expect(await refused(Buffer.concat([head, ...frames.slice(0, -1)]))).to.equal('backup_corrupt');
    const swapped = [...frames];
    [swapped[2], swapped[3]] = [swapped[3]!, swapped[2]!];
    expect(await refused(Buffer.concat([head, ...swapped]))).to.equal('backup_corrupt');
    expect(await refused(Buffer.concat([head, ...frames, frames[0]!]))).to.equal('backup_corrupt');
  });

  it('refuses another tenant’s backup, another backup’s frames and a wrong master key', async () => {
    expect(await refused(encrypted, { tenantId: 'other-co', backupId: 'b-1' })).to.equal('backup_corrupt');
    const otherBackup = split(await encrypt('acme', 'b-2'));
    const mixed = Buffer.concat([split(encrypted).head, ...otherBackup.frames]);
    expect(await refused(mixed)).to.equal('backup_corrupt');
    expect(await refused(encrypted, undefined, await LocalKeyProvider.load(otherDir))).to.equal(
      'key_unwrap_failed',
    );
  });

  it('refuses a header rewritten to name another tenant (the key stays bound to the original)', async () => {
    const { head, frames } = split(encrypted);
    const parsed = parseHeader(encrypted)!;
    const forgedHeader = Buffer.from(JSON.stringify({ ...parsed.header, tenantId: 'other-co' }), 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(forgedHeader.length, 0);
    const forged = Buffer.concat([
      head.subarray(0, 6),
      length,
      forgedHeader,
      head.subarray(head.length - 16),
      ...frames,
    ]);
    expect(await refused(forged, { tenantId: 'other-co', backupId: 'b-1' })).to.equal('key_unwrap_failed');
  });
});
