import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import pg from 'pg';
import { S3ObjectStore } from '../src/backup/s3-object-store.js';
import { backupTenant } from '../src/backup/tenant-backup.js';
import { newArchiveId } from '../src/backup/tenant-export.js';
import { createTenantMover } from '../src/moves/move-jobs.js';
import { copyOut } from '../src/postgres/copy-out.js';
import { TEST_POSTGRES_URL } from './setup/hooks.js';
import { startFailingProxy } from './support/failing-proxy.js';
import { ADMIN_KINDS } from './support/managed-admin.js';
import { startMoto } from './support/moto.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

const MIB = 1024 * 1024;

/** What a promise came to within `ms`: its value, its error's message, or 'still waiting'. */
function within(ms: number, promise: Promise<unknown>): Promise<unknown> {
  return Promise.race([
    promise.then(
      (value) => value,
      (error: Error) => `failed: ${error.message}`,
    ),
    sleep(ms).then(() => 'still waiting'),
  ]);
}

describe('a COPY … TO STDOUT cut short by what it feeds', function () {
  this.timeout(30000);

  it('leaves no statement on its client waiting forever', async () => {
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    client.on('error', () => {});
    await client.connect();
    try {
      await client.query('BEGIN');
      const rows = copyOut(
        client,
        'COPY (SELECT n, repeat(md5(n::text), 8) FROM generate_series(1, 2000000) n) TO STDOUT',
      );
      // A consumer that stalls (so the COPY backs up to the socket), then fails: a store upload that broke.
      let chunks = 0;
      const failing = new Writable({
        highWaterMark: 1,
        write(_chunk, _encoding, done) {
          chunks += 1;
          if (chunks < 3) setTimeout(done, 200);
          else done(new Error('the store went away'));
        },
      });
      expect(await within(10000, pipeline(rows, failing))).to.equal('failed: the store went away');
      const rollback = await within(5000, client.query('ROLLBACK'));
      expect(rollback, 'the statement after the failed COPY').to.not.equal('still waiting');
    } finally {
      expect(await within(5000, client.end()), 'closing the client').to.not.equal('still waiting');
    }
  });
});

for (const adminKind of ADMIN_KINDS) {
  describe(`moves and backups whose copy is cut short, with a ${adminKind.name}`, function () {
    this.timeout(120000);
    let plane: TestPlane;
    const shardDb = () => `${plane.prefix}_s_shard_one`;

    before(async () => {
      plane = await createTestPlane({}, { RATE_LIMITS: 'off' });
      await adminKind.register(plane);
      await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'bulky', tier: 'starter' }, TEST_ACTOR);
      // Enough rows that the copy runs for a while and backs up to the socket.
      await adminQuery(
        shardDb(),
        `INSERT INTO deployments (tenant_id, project_name, status, url)
           SELECT 'bulky', 'seed-' || n, 'ready', 'https://example.test/' || md5(n::text)
             FROM generate_series(1, 300000) n`,
      );
    });
    after(async () => {
      await plane.close();
    });

    it('fails a move at once when its copy sessions are ended mid-copy, leaving the tenant where it was', async () => {
      let copying = false;
      const move = createTenantMover(plane.tp).move(
        'bulky',
        { tier: 'enterprise' },
        TEST_ACTOR,
        (progress) => {
          if (progress.phase === 'copying') copying = true;
        },
      );
      while (!copying) await sleep(5);
      await sleep(300);
      await adminQuery(
        'postgres',
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = 'tenantplane-mover' AND datname LIKE $1`,
        [`${plane.prefix}\\_%`],
      );
      const outcome = await within(30000, move);
      expect(outcome).to.match(/^failed: /);
      const tenant = await plane.tp.catalog.requireTenant('bulky');
      expect(tenant).to.include({ tier: 'starter', status: 'active', databaseId: 'shard-one' });
      const rows = await adminQuery<{ n: number }>(
        shardDb(),
        "SELECT count(*)::int AS n FROM deployments WHERE tenant_id = 'bulky'",
      );
      expect(rows.rows[0]!.n).to.equal(300000);
    });

    it('fails a backup at once when the store fails partway, and closes its connection', async () => {
      const moto = await startMoto();
      const bucket = await moto.createBucket();
      // Every attempt at part 2 fails with a 500, the SDK's retries included.
      const proxy = await startFailingProxy(
        moto.endpoint,
        (request) => request.method === 'PUT' && /[?&]partNumber=2(&|$)/.test(request.url ?? ''),
      );
      const undoEnv = moto.applyEnv();
      const store = new S3ObjectStore({
        bucket,
        prefix: 'cut-short',
        partSize: 5 * MIB,
        partsInFlight: 1,
        client: { endpoint: proxy.endpoint },
      });
      try {
        const outcome = await within(
          60000,
          backupTenant({ ...plane.tp.backups.deps, store }, 'bulky', newArchiveId()),
        );
        expect(outcome).to.match(/^failed: /);
        expect(proxy.failed).to.be.greaterThan(0);
      } finally {
        undoEnv();
        await proxy.close();
      }
    });
  });
}
