import { promisify } from 'node:util';
import { deflateRaw, inflateRaw } from 'node:zlib';
import { BackupIntegrityError } from '../../errors/index.js';

/**
 * How a backup's compressed row blocks ('C' records of the container) are encoded. The container header
 * names it (`codec`), so a reader never guesses; backups written before the header named it hold raw
 * deflate in their 'C' records and no `codec` at all.
 *
 * - `zstd` (level 1), the default since it was measured (bench/backup/codecs.ts, bench/backup/README.md):
 *   on the bench's rows it stores about 13% less than raw deflate level 1 and compresses about 7 times,
 *   decompresses about 8 times as fast. It runs on the calling thread (zstd-napi has no asynchronous call),
 *   about 2 ms per block.
 * - `deflate-raw` (level 1, on libuv's thread pool): what `--compress` wrote before; still read, and written
 *   by no one now.
 */
export type RowCodecName = 'zstd' | 'deflate-raw';

/** `none`: rows stored as they are, in 'D' records. */
export type ContainerCodec = RowCodecName | 'none';

export interface RowCodec {
  readonly name: RowCodecName;
  compress(block: Buffer): Promise<Buffer>;
  decompress(block: Buffer): Promise<Buffer>;
}

/** COPY text gathered into one compressed block: large blocks compress better and cost fewer calls. */
export const ROW_BLOCK_BYTES = 1024 * 1024;

const deflate = promisify(deflateRaw);
const inflate = promisify(inflateRaw);

type Zstd = typeof import('zstd-napi');

/** The codec's library does not load here: a fault of the installation, not of the backup. */
class CodecUnavailableError extends Error {}

let zstdModule: Promise<Zstd> | undefined;

/**
 * zstd-napi is a native addon whose binary its install script fetches or compiles (the Dockerfile gives it
 * a compiler): loaded on first use, so a process without it still starts, and only zstd backups fail.
 */
function loadZstd(): Promise<Zstd> {
  zstdModule ??= import('zstd-napi').catch((error: unknown) => {
    zstdModule = undefined;
    throw new CodecUnavailableError(
      'zstd-napi cannot load (its native binding is missing: was its install script run?)',
      {
        cause: error,
      },
    );
  });
  return zstdModule;
}

const CODECS: Record<RowCodecName, RowCodec> = {
  zstd: {
    name: 'zstd',
    compress: async (block) => (await loadZstd()).compress(block, { compressionLevel: 1 }),
    decompress: async (block) => (await loadZstd()).decompress(block),
  },
  'deflate-raw': {
    name: 'deflate-raw',
    compress: (block) => deflate(block, { level: 1 }),
    decompress: (block) => inflate(block),
  },
};

export const DEFAULT_ROW_CODEC: RowCodec = CODECS.zstd;

/** The codec a container header names; `undefined` (a backup from before headers named it) is raw deflate. */
export function rowCodecOf(name: string | undefined): RowCodec {
  const key = name ?? 'deflate-raw';
  if (!Object.hasOwn(CODECS, key)) {
    throw new BackupIntegrityError(
      `the backup's rows are compressed with ${key}, which this version cannot read`,
    );
  }
  return CODECS[key as RowCodecName];
}

/** Decodes failures of a block as damage: the block authenticated, so only a wrong codec or a bug gets here. */
export async function decompressBlock(codec: RowCodec, block: Buffer): Promise<Buffer> {
  try {
    return await codec.decompress(block);
  } catch (error) {
    if (error instanceof CodecUnavailableError) throw error;
    throw new BackupIntegrityError(`a ${codec.name} block of the backup does not decompress`, error);
  }
}
