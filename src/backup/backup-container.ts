import { promisify } from 'node:util';
import { deflateRaw, inflateRaw } from 'node:zlib';
import { BackupIntegrityError } from '../errors/index.js';

/**
 * The plaintext inside an encrypted backup, built to stream at COPY speed:
 *
 *   "TPDATA1\n" | record*    record = u8 kind | u32 length | payload
 *
 *   B  JSON {tenantId, backupId, schemaVersion, migrations, createdAt}   once, first
 *   T  JSON {name, columns}                                              a table starts
 *   D  rows in PostgreSQL's COPY text format, one row per line           (C: the same, raw-deflated)
 *   E  JSON {rows}                                                       the table ends
 *   Z  JSON {tables: {name: rows}}                                       once, last
 *
 * Row counts are stated twice (per table and in the trailer) and rows can be counted by newlines, so
 * verify and restore check them without loading anything.
 */
export const CONTAINER_MAGIC = Buffer.from('TPDATA1\n', 'utf8');

export interface ContainerHeader {
  tenantId: string;
  backupId: string;
  schemaVersion: string;
  migrations: string[];
  createdAt: string;
}

export type ContainerRecord =
  | { kind: 'header'; header: ContainerHeader }
  | { kind: 'table'; name: string; columns: string[] }
  | { kind: 'rows'; data: Buffer }
  | { kind: 'table-end'; rows: number }
  | { kind: 'trailer'; tables: Record<string, number> };

const deflate = promisify(deflateRaw);
const inflate = promisify(inflateRaw);

function record(kind: string, payload: Buffer): Buffer[] {
  const prefix = Buffer.alloc(5);
  prefix.write(kind, 0, 'latin1');
  prefix.writeUInt32BE(payload.length, 1);
  return [prefix, payload];
}

function json(kind: string, value: unknown): Buffer[] {
  return record(kind, Buffer.from(JSON.stringify(value), 'utf8'));
}

/** Builds the container as a stream of buffers from the snapshot's tables. */
export async function* writeContainer(
  header: ContainerHeader,
  tables: AsyncIterable<{ name: string; columns: string[]; rows: AsyncIterable<Buffer>; rowCount(): number }>,
  options: { compress?: boolean } = {},
): AsyncGenerator<Buffer> {
  yield CONTAINER_MAGIC;
  yield* json('B', header);
  const counts: Record<string, number> = {};
  for await (const table of tables) {
    yield* json('T', { name: table.name, columns: table.columns });
    let pending: Promise<Buffer> | undefined;
    for await (const chunk of table.rows) {
      if (!options.compress) {
        yield* record('D', chunk);
        continue;
      }
      // Deflate runs on libuv's thread pool: compress one chunk while the next one is read.
      const next = deflate(chunk, { level: 1 });
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
  const handle = async (kind: string, payload: Buffer): Promise<ContainerRecord> => {
    const expect = (...states: (typeof position.state)[]) => {
      if (!states.includes(position.state))
        throw new BackupIntegrityError(`unexpected ${kind} record in the backup`);
    };
    switch (kind) {
      case 'B':
        expect('header');
        position.state = 'tables';
        return { kind: 'header', header: parseJson<ContainerHeader>(payload, 'header') };
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
        const data = kind === 'C' ? await inflate(payload) : payload;
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
