import { BackupIntegrityError } from '../errors/index.js';
import {
  type ContainerCodec,
  decompressBlock,
  ROW_BLOCK_BYTES,
  type RowCodec,
  rowCodecOf,
} from './codec/row-codecs.js';

/**
 * The plaintext inside an encrypted backup, built to stream at COPY speed:
 *
 *   "TPDATA1\n" | record*    record = u8 kind | u32 length | payload
 *
 *   B  JSON {tenantId, backupId, schemaVersion, migrations, createdAt, codec}   once, first
 *   T  JSON {name, columns}                                                     a table starts
 *   D  rows in PostgreSQL's COPY text format, one row per line
 *   C  the same, gathered into blocks of about ROW_BLOCK_BYTES and compressed with the header's codec
 *   E  JSON {rows}                                                              the table ends
 *   Z  JSON {tables: {name: rows}}                                              once, last
 *
 * Row counts are stated twice (per table and in the trailer) and rows can be counted by newlines, so
 * verify and restore check them without loading anything. Records may cut rows anywhere. Backups written
 * before the header named its codec have no `codec`: their 'C' records are raw deflate (see row-codecs.ts).
 */
export const CONTAINER_MAGIC = Buffer.from('TPDATA1\n', 'utf8');

export interface ContainerHeader {
  tenantId: string;
  backupId: string;
  schemaVersion: string;
  migrations: string[];
  createdAt: string;
  /** How the rows are stored; absent in backups from before it was recorded (see row-codecs.ts). */
  codec?: ContainerCodec;
}

export type ContainerRecord =
  | { kind: 'header'; header: ContainerHeader }
  | { kind: 'table'; name: string; columns: string[] }
  | { kind: 'rows'; data: Buffer }
  | { kind: 'table-end'; rows: number }
  | { kind: 'trailer'; tables: Record<string, number> };

function record(kind: string, payload: Buffer): Buffer[] {
  const prefix = Buffer.alloc(5);
  prefix.write(kind, 0, 'latin1');
  prefix.writeUInt32BE(payload.length, 1);
  return [prefix, payload];
}

function json(kind: string, value: unknown): Buffer[] {
  return record(kind, Buffer.from(JSON.stringify(value), 'utf8'));
}

/**
 * Builds the container as a stream of buffers from the snapshot's tables; with a codec, each table's rows
 * are gathered into blocks and compressed, the next block gathered while the last one compresses.
 */
export async function* writeContainer(
  header: Omit<ContainerHeader, 'codec'>,
  tables: AsyncIterable<{ name: string; columns: string[]; rows: AsyncIterable<Buffer>; rowCount(): number }>,
  options: { codec?: RowCodec | undefined } = {},
): AsyncGenerator<Buffer> {
  const codec = options.codec;
  yield CONTAINER_MAGIC;
  yield* json('B', { ...header, codec: codec?.name ?? 'none' } satisfies ContainerHeader);
  const counts: Record<string, number> = {};
  for await (const table of tables) {
    yield* json('T', { name: table.name, columns: table.columns });
    let gathered: Buffer[] = [];
    let gatheredBytes = 0;
    let pending: Promise<Buffer> | undefined;
    const compressGathered = () => {
      const next = codec!.compress(gathered.length === 1 ? gathered[0]! : Buffer.concat(gathered));
      // Awaited in turn below; this keeps a failure while an earlier block is awaited from going unhandled.
      next.catch(() => {});
      gathered = [];
      gatheredBytes = 0;
      return next;
    };
    for await (const chunk of table.rows) {
      if (!codec) {
        yield* record('D', chunk);
        continue;
      }
      gathered.push(chunk);
      gatheredBytes += chunk.length;
      if (gatheredBytes < ROW_BLOCK_BYTES) continue;
      const next = compressGathered();
      if (pending) yield* record('C', await pending);
      pending = next;
    }
    if (gatheredBytes > 0) {
      const next = compressGathered();
      if (pending) yield* record('C', await pending);
      pending = next;
    }
    if (pending) yield* record('C', await pending);
    counts[table.name] = table.rowCount();
    yield* json('E', { rows: counts[table.name] });
  }
  yield* json('Z', { tables: counts });
}

function parseJson<T>(payload: Buffer, what: string): T {
  try {
    return JSON.parse(payload.toString('utf8')) as T;
  } catch (error) {
    throw new BackupIntegrityError(`backup ${what} record is not readable`, error);
  }
}

/**
 * Reads a container from its plaintext, checking the record order and every row count as it goes. The
 * caller must only trust what it did with the records once the iteration ends without an error.
 */
export async function* readContainer(source: AsyncIterable<Buffer>): AsyncGenerator<ContainerRecord> {
  let buffered: Buffer = Buffer.alloc(0);
  let magicSeen = false;
  // An object, so the checks after each awaited record see what `handle` changed.
  const position: { state: 'header' | 'tables' | 'rows' | 'done' } = { state: 'header' };
  let lines = 0;
  let table = '';
  const counts: Record<string, number> = {};
  /** How 'C' records decode, from the header; none when it says the rows are stored as they are. */
  let codec: RowCodec | undefined;
  const handle = async (kind: string, payload: Buffer): Promise<ContainerRecord> => {
    const expect = (...states: (typeof position.state)[]) => {
      if (!states.includes(position.state))
        throw new BackupIntegrityError(`unexpected ${kind} record in the backup`);
    };
    switch (kind) {
      case 'B': {
        expect('header');
        const header = parseJson<ContainerHeader>(payload, 'header');
        codec = header.codec === 'none' ? undefined : rowCodecOf(header.codec);
        position.state = 'tables';
        return { kind: 'header', header };
      }
      case 'T': {
        expect('tables');
        const value = parseJson<{ name: string; columns: string[] }>(payload, 'table');
        position.state = 'rows';
        lines = 0;
        table = value.name;
        return { kind: 'table', name: value.name, columns: value.columns };
      }
      case 'D':
      case 'C': {
        expect('rows');
        if (kind === 'C' && !codec)
          throw new BackupIntegrityError('compressed rows in a backup stored as is');
        const data = kind === 'C' ? await decompressBlock(codec!, payload) : payload;
        for (let at = data.indexOf(10); at !== -1; at = data.indexOf(10, at + 1)) lines += 1;
        return { kind: 'rows', data };
      }
      case 'E': {
        expect('rows');
        const { rows } = parseJson<{ rows: number }>(payload, 'table end');
        if (rows !== lines)
          throw new BackupIntegrityError(`table ${table} holds ${lines} rows but says ${rows}`);
        counts[table] = rows;
        position.state = 'tables';
        return { kind: 'table-end', rows };
      }
      case 'Z': {
        expect('tables');
        const { tables } = parseJson<{ tables: Record<string, number> }>(payload, 'trailer');
        if (JSON.stringify(tables) !== JSON.stringify(counts))
          throw new BackupIntegrityError('the backup trailer disagrees with its tables');
        position.state = 'done';
        return { kind: 'trailer', tables };
      }
      default:
        throw new BackupIntegrityError(`unknown record kind in the backup`);
    }
  };
  for await (const chunk of source) {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    if (!magicSeen) {
      if (buffered.length < CONTAINER_MAGIC.length) continue;
      if (!buffered.subarray(0, CONTAINER_MAGIC.length).equals(CONTAINER_MAGIC))
        throw new BackupIntegrityError('the backup does not hold tenantplane data');
      magicSeen = true;
      buffered = buffered.subarray(CONTAINER_MAGIC.length);
    }
    let offset = 0;
    while (buffered.length - offset >= 5) {
      const length = buffered.readUInt32BE(offset + 1);
      if (buffered.length - offset < 5 + length) break;
      if (position.state === 'done') throw new BackupIntegrityError('data follows the backup trailer');
      const kind = String.fromCharCode(buffered[offset]!);
      yield await handle(kind, buffered.subarray(offset + 5, offset + 5 + length));
      offset += 5 + length;
    }
    buffered = buffered.subarray(offset);
  }
  if (position.state !== 'done' || buffered.length > 0)
    throw new BackupIntegrityError('the backup ends early');
}
