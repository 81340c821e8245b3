/**
 * `npx tsx bench/backup/codecs.ts [--size-mb N]`: how the candidate codecs for a backup's rows compare on
 * the rows bench:backup fills, before the choice is built in. The tables are filled in a database of their
 * own (fill.ts), read back as COPY text as a backup reads them, cut into blocks, and each block compressed
 * and decompressed on its own (as the container stores them), one codec after the other, on one thread.
 * Prints the stored size against the COPY text, and the throughput of each direction in MB/s of COPY text.
 */
import { performance } from 'node:perf_hooks';
import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  deflateRawSync,
  inflateRawSync,
} from 'node:zlib';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import * as zstd from 'zstd-napi';
import { log } from '../lib/log.js';
import { numberOption, parseFlags } from '../lib/options.js';
import { table } from '../lib/tables.js';
import { fill } from './fill.js';

interface Codec {
  name: string;
  compress(block: Buffer): Buffer;
  decompress(block: Buffer): Buffer;
}

const brotli = (quality: number): Codec => ({
  name: `brotli q${quality}`,
  compress: (block) =>
    brotliCompressSync(block, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: quality,
        [constants.BROTLI_PARAM_SIZE_HINT]: block.length,
      },
    }),
  decompress: (block) => brotliDecompressSync(block),
});

const CODECS: Codec[] = [
  {
    name: 'deflate 1',
    compress: (b) => deflateRawSync(b, { level: 1 }),
    decompress: (b) => inflateRawSync(b),
  },
  {
    name: 'deflate 6',
    compress: (b) => deflateRawSync(b, { level: 6 }),
    decompress: (b) => inflateRawSync(b),
  },
  brotli(1),
  brotli(3),
  { name: 'zstd 1', compress: (b) => zstd.compress(b, { compressionLevel: 1 }), decompress: zstd.decompress },
  { name: 'zstd 3', compress: (b) => zstd.compress(b, { compressionLevel: 3 }), decompress: zstd.decompress },
];

const BLOCK_SIZES = [64 * 1024, 1024 * 1024];
const ROUNDS = 3;

/** The superuser URL the tests use; this script reads it alone, so it runs whatever else the tree holds. */
const SERVER_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function urlFor(database: string): string {
  const url = new URL(SERVER_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function query(database: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: urlFor(database) });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function copyText(url: string): Promise<Buffer> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const chunks: Buffer[] = [];
    for (const name of ['audit_events', 'deployments', 'workflows']) {
      const stream = client.query(copyTo(`COPY ${name} TO STDOUT`));
      for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  } finally {
    await client.end();
  }
}

function blocks(text: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < text.length; at += size) out.push(text.subarray(at, at + size));
  return out;
}

async function main(): Promise<void> {
  const values = parseFlags(process.argv.slice(2), { 'size-mb': { type: 'string' } }, HELP);
  if (!values) return;
  const sizeMb = numberOption('size-mb', values['size-mb'], 64);
  const database = `codecs_${process.pid}`;
  await query('postgres', `CREATE DATABASE ${database}`);
  try {
    const url = urlFor(database);
    const { readFile } = await import('node:fs/promises');
    await query(database, await readFile('tenant-migrations/0001_application_tables.sql', 'utf8'));
    const filled = await fill(url, 'codec-bench', sizeMb);
    const text = await copyText(url);
    log(
      `${filled.rows} rows, database ${(filled.bytes / 1048576).toFixed(0)} MB, COPY text ${mb(text.length)}`,
    );
    const rows: string[][] = [];
    for (const blockSize of BLOCK_SIZES) {
      const pieces = blocks(text, blockSize);
      const timings = new Map(
        CODECS.map((codec) => [codec, { compressMs: Infinity, decompressMs: Infinity, stored: 0 }]),
      );
      // Rounds of every codec in turn, the best of each kept: the machine is shared, other work comes and goes.
      for (let round = 0; round < ROUNDS; round += 1) {
        for (const codec of CODECS) {
          const best = timings.get(codec)!;
          let started = performance.now();
          const packed = pieces.map((piece) => codec.compress(piece));
          best.compressMs = Math.min(best.compressMs, performance.now() - started);
          started = performance.now();
          for (const piece of packed) codec.decompress(piece);
          best.decompressMs = Math.min(best.decompressMs, performance.now() - started);
          best.stored = packed.reduce((sum, piece) => sum + piece.length, 0);
        }
      }
      for (const codec of CODECS) {
        const { compressMs, decompressMs, stored } = timings.get(codec)!;
        rows.push([
          codec.name,
          `${blockSize / 1024} KiB`,
          mb(stored),
          (text.length / stored).toFixed(2),
          (text.length / 1048576 / (compressMs / 1000)).toFixed(0),
          (text.length / 1048576 / (decompressMs / 1000)).toFixed(0),
        ]);
      }
    }
    log(table(['codec', 'block', 'stored', 'ratio', 'compress MB/s', 'decompress MB/s'], rows));
  } finally {
    await query('postgres', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
}

const HELP = `npx tsx bench/backup/codecs.ts [--size-mb N]

  --size-mb N   size of the filled database whose rows are compressed (default 64)
`;

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;

await main();
