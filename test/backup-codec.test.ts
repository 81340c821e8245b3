import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { deflateRawSync } from 'node:zlib';
import { expect } from 'chai';
import { BackupCatalog } from '../src/backup/backup-catalog.js';
import {
  CONTAINER_MAGIC,
  type ContainerRecord,
  readContainer,
  writeContainer,
} from '../src/backup/backup-container.js';
import { requestBackup } from '../src/backup/backup-operations.js';
import { readBackup, readBackupHeader, verifyBackup } from '../src/backup/backup-reader.js';
import { DEFAULT_ROW_CODEC, ROW_BLOCK_BYTES } from '../src/backup/codec/row-codecs.js';
import { createEncryptStream } from '../src/backup/envelope-format.js';
import { FileObjectStore } from '../src/backup/file-object-store.js';
import { LocalKeyProvider } from '../src/backup/key-provider.js';
import { uploadStream } from '../src/backup/store-upload.js';
import { backupObjectKey, backupTenant } from '../src/backup/tenant-backup.js';
import { newArchiveId } from '../src/backup/tenant-export.js';
import { type RestoreDeps, restoreTenant } from '../src/backup/tenant-restore.js';
import type { TenantplaneError } from '../src/errors/index.js';
import type { Tenantplane } from '../src/tenantplane.js';
import { rejection } from './support/async-helpers.js';
import { ADMIN_KINDS } from './support/managed-admin.js';
import { seedTenantRows, tenantQuery, tenantRows } from './support/tenant-rows.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

/** One container record as the format lays it out: kind, u32 length, payload. */
function record(kind: string, payload: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.write(kind, 0, 'latin1');
  prefix.writeUInt32BE(payload.length, 1);
  return Buffer.concat([prefix, payload]);
}

const json = (kind: string, value: unknown) => record(kind, Buffer.from(JSON.stringify(value), 'utf8'));

async function records(plaintext: Buffer): Promise<ContainerRecord[]> {
  const out: ContainerRecord[] = [];
  for await (const item of readContainer(Readable.from([plaintext]))) out.push(item);
  return out;
}

describe('backup container codecs', () => {
  const header = { tenantId: 'acme', backupId: 'b1', schemaVersion: '', migrations: [], createdAt: '' };
  const rows = Buffer.from('1\tacme\tfirst\n2\tacme\tsecond\n', 'utf8');
  const container = (codec: string | undefined, body: Buffer[]) =>
    Buffer.concat([
      CONTAINER_MAGIC,
      json('B', codec === undefined ? header : { ...header, codec }),
      json('T', { name: 'users', columns: ['id', 'tenant_id', 'name'] }),
      ...body,
      json('E', { rows: 2 }),
      json('Z', { tables: { users: 2 } }),
    ]);

  it('reads raw deflate rows of a header that names no codec (backups from before it was recorded)', async () => {
    const read = await records(container(undefined, [record('C', deflateRawSync(rows, { level: 1 }))]));
    expect(read.find((item) => item.kind === 'rows')).to.deep.equal({ kind: 'rows', data: rows });
  });

  it('refuses a codec it does not know, and compressed rows in a backup stored as is', async () => {
    const unknown = await rejection<TenantplaneError>(records(container('lz4', [record('C', rows)])));
    expect(unknown.code).to.equal('backup_corrupt');
    expect(unknown.message).to.match(/compressed with lz4, which this version cannot read/);
    const stray = await rejection<TenantplaneError>(records(container('none', [record('C', rows)])));
    expect(stray.code).to.equal('backup_corrupt');
  });

  it('gathers a table’s rows into zstd blocks and reads back the same bytes', async () => {
    // 3 MiB of rows in 16 KiB chunks, as COPY hands them over: several blocks, the last one partial.
    const chunk = Buffer.from(`${'7\tacme\tsome text that repeats\t2026-01-01 00:00:00+00\n'.repeat(300)}`);
    const chunks = Array.from({ length: Math.ceil((3 * 1024 * 1024) / chunk.length) }, () => chunk);
    const lines = (chunk.toString().match(/\n/g) ?? []).length * chunks.length;
    const written: Buffer[] = [];
    const tables = (async function* () {
      yield { name: 'users', columns: ['id'], rows: Readable.from(chunks), rowCount: () => lines };
    })();
    for await (const piece of writeContainer(header, tables, { codec: DEFAULT_ROW_CODEC }))
      written.push(piece);
    const plaintext = Buffer.concat(written);
    const stored = plaintext.length;
    const read = await records(plaintext);
    const blocks = read.filter((item) => item.kind === 'rows') as Array<{ data: Buffer }>;
    expect(blocks.length).to.equal(3);
    for (const block of blocks.slice(0, -1)) {
      expect(block.data.length).to.be.within(ROW_BLOCK_BYTES, ROW_BLOCK_BYTES + chunk.length);
    }
    expect(Buffer.concat(blocks.map((block) => block.data)).equals(Buffer.concat(chunks))).to.equal(true);
    expect(read.at(-1)).to.deep.equal({ kind: 'trailer', tables: { users: lines } });
    expect(stored).to.be.lessThan((chunks.length * chunk.length) / 10);
  });

  it('refuses a zstd block that does not decompress, as damage', async () => {
    const error = await rejection<TenantplaneError>(records(container('zstd', [record('C', rows)])));
    expect(error.code).to.equal('backup_corrupt');
  });
});

for (const admin of ADMIN_KINDS) {
  describe(`backups compressed by default, old formats still restored, with a ${admin.name}`, function () {
    this.timeout(60000);
    let plane: TestPlane<Tenantplane>;
    let storeDir: string;
    let deps: RestoreDeps;

    before(async () => {
      plane = await createTestPlane({ serveTraffic: false });
      await admin.register(plane);
      await plane.tp.shards.add({ id: 'shard-a', serverId: 'pg-main' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'hooli', tier: 'enterprise' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'pied', tier: 'starter' }, TEST_ACTOR);
      await seedTenantRows(plane.tp, 'hooli', 300, 'hooli');
      await seedTenantRows(plane.tp, 'pied', 120, 'pied');
      storeDir = await mkdtemp(path.join(os.tmpdir(), 'tenantplane-codec-'));
      deps = {
        catalog: plane.tp.catalog,
        backups: new BackupCatalog(plane.tp.knex),
        store: new FileObjectStore(storeDir),
        keys: await LocalKeyProvider.load(plane.dataDir),
        tenants: plane.tp.tenants,
        databasePrefix: plane.prefix,
        migrationsDir: plane.tp.tenantMigrationsDir,
        logger: plane.tp.logger,
        controlDatabaseUrl: plane.tp.controlDatabaseUrl,
      };
    });
    after(async () => {
      await plane?.close();
      if (storeDir) await rm(storeDir, { recursive: true, force: true });
    });

    let disturbed = 0;
    /** Changes the tenant's rows so that a restore has something to undo. */
    const disturb = async (tenantId: string) => {
      await tenantQuery(plane.tp, tenantId, 'DELETE FROM workflows WHERE tenant_id = $1', [tenantId]);
      await tenantQuery(plane.tp, tenantId, "UPDATE users SET name = 'changed' WHERE tenant_id = $1", [
        tenantId,
      ]);
      // A tag of its own each time: a refused restore keeps the rows the last one added.
      disturbed += 1;
      await seedTenantRows(plane.tp, tenantId, 3, `later-${disturbed}`);
    };

    /** The dedicated database's indexes and constraints, which a restore drops and builds again. */
    const schemaOf = async () =>
      (
        await adminQuery<{ definition: string }>(
          `${plane.prefix}_t_hooli`,
          `SELECT indexdef AS definition FROM pg_indexes WHERE schemaname = 'public'
           UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
            WHERE connamespace = 'public'::regnamespace
           ORDER BY 1`,
        )
      ).rows.map((row) => row.definition);

    it('compresses with zstd unless told not to, names the codec in the header, and restores either', async () => {
      const before = await tenantRows(plane.tp, 'hooli');
      const schema = await schemaOf();
      expect(schema.length).to.be.greaterThan(8);
      const compressed = await backupTenant(deps, 'hooli', newArchiveId());
      const plain = await backupTenant(deps, 'hooli', newArchiveId(), { compress: false });
      expect((await readBackupHeader(deps, compressed)).codec).to.equal('zstd');
      expect((await readBackupHeader(deps, plain)).codec).to.equal('none');
      expect(compressed.sizeBytes).to.be.lessThan(plain.sizeBytes! / 2);
      for (const backup of [compressed, plain]) {
        expect((await verifyBackup(deps, 'hooli', backup.id)).tables).to.deep.equal(backup.rowCounts);
        await disturb('hooli');
        await restoreTenant(deps, 'hooli', backup.id, { actor: TEST_ACTOR });
        expect(await tenantRows(plane.tp, 'hooli')).to.deep.equal(before);
        expect(await schemaOf()).to.deep.equal(schema);
      }
    });

    it('compresses a requested backup unless the request says compress: false (the CLI, the API, schedules)', async () => {
      const own = plane.tp.backups.deps;
      for (const { compress, codec } of [
        { compress: undefined, codec: 'zstd' },
        { compress: false, codec: 'none' },
      ]) {
        const queued = await requestBackup(plane.tp.backups, 'hooli', {
          ...(compress === undefined ? {} : { compress }),
          actor: TEST_ACTOR,
        });
        await plane.tp.jobs.wait(queued.queue, queued.jobId);
        const backup = await own.backups.require('hooli', queued.requestId);
        expect((await readBackupHeader(own, backup)).codec).to.equal(codec);
      }
    });

    /**
     * Stores a backup of the tenant in the format written before the codec was recorded: a header with no
     * `codec`, the rows as they came ('D') or raw-deflated ('C'), made from a current uncompressed backup's
     * records, encrypted and recorded as backupTenant does.
     */
    const legacyBackup = async (tenantId: string, deflate: boolean) => {
      const source = await backupTenant(deps, tenantId, newArchiveId(), { compress: false });
      const id = newArchiveId();
      const parts: Buffer[] = [CONTAINER_MAGIC];
      for await (const item of readBackup(deps, source)) {
        if (item.kind === 'header') {
          const { codec, ...old } = item.header;
          expect(codec).to.equal('none');
          // The header names the backup it belongs to.
          parts.push(json('B', { ...old, backupId: id }));
        } else if (item.kind === 'table') parts.push(json('T', { name: item.name, columns: item.columns }));
        else if (item.kind === 'rows')
          parts.push(deflate ? record('C', deflateRawSync(item.data, { level: 1 })) : record('D', item.data));
        else if (item.kind === 'table-end') parts.push(json('E', { rows: item.rows }));
        else parts.push(json('Z', { tables: item.tables }));
      }
      const objectKey = backupObjectKey(tenantId, id);
      await deps.backups.begin({ id, tenantId, objectKey });
      const { stream, header } = await createEncryptStream({
        keys: deps.keys,
        tenantId,
        backupId: id,
        schemaVersion: source.schemaVersion!,
      });
      const stored = await uploadStream(deps.store, objectKey, Readable.from(parts), [stream]);
      return deps.backups.complete(id, {
        sizeBytes: stored.size,
        sha256: stored.sha256,
        schemaVersion: source.schemaVersion!,
        keyId: header.keyId,
        rowCounts: source.rowCounts ?? {},
      });
    };

    // The format does not depend on the placement, the load does: one of each, across the two.
    for (const { deflate, tenantId } of [
      { deflate: false, tenantId: 'pied' },
      { deflate: true, tenantId: 'hooli' },
    ]) {
      it(`verifies and restores a backup of the earlier format, ${deflate ? 'raw-deflated, dedicated' : 'uncompressed, shard'}`, async () => {
        const before = await tenantRows(plane.tp, tenantId);
        const legacy = await legacyBackup(tenantId, deflate);
        expect((await readBackupHeader(deps, legacy)).codec).to.equal(undefined);
        const verified = await verifyBackup(deps, tenantId, legacy.id);
        expect(verified.tables).to.deep.equal(legacy.rowCounts);
        await disturb(tenantId);
        await restoreTenant(deps, tenantId, legacy.id, { actor: TEST_ACTOR });
        expect(await tenantRows(plane.tp, tenantId)).to.deep.equal(before);
      });
    }

    it('refuses a backup whose catalog row counts differ from its data, naming the table, the tenant as it was', async () => {
      const backup = await backupTenant(deps, 'hooli', newArchiveId());
      await disturb('hooli');
      const current = await tenantRows(plane.tp, 'hooli');
      const counts = { ...backup.rowCounts, users: backup.rowCounts!.users! + 1 };
      await plane.tp
        .knex('backups')
        .where({ id: backup.id })
        .update({ row_counts: JSON.stringify(counts) });
      for (const attempt of [
        () => verifyBackup(deps, 'hooli', backup.id),
        () => restoreTenant(deps, 'hooli', backup.id, { actor: TEST_ACTOR }),
      ]) {
        const error = await rejection<TenantplaneError>(attempt());
        expect(error.code).to.equal('backup_corrupt');
        expect(error.message).to.match(/row counts: users \(\d+ in the data, \d+ in the catalog\)/);
      }
      expect(await tenantRows(plane.tp, 'hooli')).to.deep.equal(current);
    });

    it('refuses a damaged compressed backup however late the damage, leaving the tenant as it was', async () => {
      const backup = await backupTenant(deps, 'hooli', newArchiveId());
      await disturb('hooli');
      const current = await tenantRows(plane.tp, 'hooli');
      const file = path.join(storeDir, ...backup.objectKey.split('/'));
      const pristine = await readFile(file);
      try {
        // Near the end: the rows before it have been loaded by the time it is read.
        for (const offset of [pristine.length - 40, Math.floor(pristine.length / 2)]) {
          const damaged = Buffer.from(pristine);
          damaged[offset] = damaged[offset]! ^ 0x01;
          await writeFile(file, damaged);
          const error = await rejection<TenantplaneError>(
            restoreTenant(deps, 'hooli', backup.id, { actor: TEST_ACTOR }),
          );
          expect(error.code).to.equal('backup_corrupt');
          expect(await tenantRows(plane.tp, 'hooli')).to.deep.equal(current);
          expect((await plane.tp.catalog.requireTenant('hooli')).status).to.equal('active');
        }
      } finally {
        await writeFile(file, pristine);
      }
    });
  });
}
