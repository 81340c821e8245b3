import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import pg from 'pg';
import { dedicatedDatabaseId } from '../src/catalog/records.js';
import type { TenantplaneError } from '../src/errors/index.js';
import { TenantMover, type TenantMoverOptions } from '../src/moves/tenant-mover.js';
import { type PgProxy, startPgProxy } from './support/pg-proxy.js';
import {
  adminQuery,
  adminUrlFor,
  createTestPlane,
  TEST_ACTOR,
  type TestPlane,
} from './support/test-plane.js';
import { expectedRows, Traffic, tenantRowsIn } from './support/traffic.js';

describe('tier moves wait for every serving instance', function () {
  this.timeout(60000);
  let plane: TestPlane;
  let proxy: PgProxy | undefined;
  const controlDb = () => `${plane.prefix}_control`;
  const shardDb = () => `${plane.prefix}_s_shard_one`;
  const dedicatedDb = () => `${plane.prefix}_t_waiter`;
  const SILENT_HOST = 'silent-test-instance';

  function mover(options: Partial<TenantMoverOptions> = {}): TenantMover {
    return new TenantMover({
      catalog: plane.tp.catalog,
      logger: plane.tp.logger,
      databasePrefix: plane.tp.config.databasePrefix,
      tenantMigrationsDir: plane.tp.tenantMigrationsDir,
      controlDatabaseUrl: plane.tp.controlDatabaseUrl,
      placement: plane.tp.placement,
      ...options,
    });
  }

  /** The row a serving instance that never confirms anything leaves in `instances`, renewed just now. */
  async function silentInstance(leaseMs: number): Promise<string> {
    const id = randomUUID();
    await adminQuery(
      controlDb(),
      `INSERT INTO instances (id, kind, host, pid, lease_ms) VALUES ($1, 'serve', $2, 1, $3)`,
      [id, SILENT_HOST, leaseMs],
    );
    return id;
  }

  /** The waiter's rows as a database holds them (read as the superuser, which row-level security spares). */
  const rowsIn = (database: string) => tenantRowsIn(database, 'waiter');

  /**
   * Puts `waiter` on `tier` (moving it if the placement differs) unless it is there already: where the test
   * before it left it when the suite runs in order, so only a test run alone pays for the move.
   */
  async function waiterOn(tier: string): Promise<void> {
    await mover().move('waiter', { tier }, TEST_ACTOR);
  }

  async function until(condition: () => boolean, limitMs: number): Promise<void> {
    const deadline = performance.now() + limitMs;
    while (!condition() && performance.now() < deadline) await sleep(20);
  }

  before(async () => {
    plane = await createTestPlane({}, { RATE_LIMITS: 'off' });
    await adminQuery(
      controlDb(),
      'UPDATE tiers SET max_users = NULL, max_deployments = NULL, max_workflows = NULL, max_storage_bytes = NULL',
    );
    await plane.addServer();
    await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'waiter', tier: 'starter' }, TEST_ACTOR);
    await adminQuery(
      shardDb(),
      `INSERT INTO deployments (tenant_id, project_name, status)
         SELECT 'waiter', 'seed-' || n, 'ready' FROM generate_series(1, 300) n;
       INSERT INTO workflows (tenant_id, name, status, config)
         SELECT 'waiter', 'flow-' || n, 'ready', '{}' FROM generate_series(1, 100) n;`,
    );
  });
  afterEach(async () => {
    await adminQuery(controlDb(), 'DELETE FROM instances WHERE host = $1', [SILENT_HOST]);
  });
  after(async () => {
    proxy?.release();
    await plane.close();
    await proxy?.close();
  });

  it('keeps the tenant paused while a live serving instance has not confirmed, and switches soon after it does', async () => {
    const silent = await silentInstance(60000);
    let paused = false;
    const outcome = mover()
      .move('waiter', { tier: 'enterprise' }, TEST_ACTOR, (progress) => {
        if (progress.phase === 'paused') paused = true;
      })
      .then(
        (result) => ({ result, error: undefined }),
        (error: Error) => ({ result: undefined, error }),
      );
    await until(() => paused, 20000);
    await sleep(2000);
    expect((await plane.tp.catalog.requireTenant('waiter')).status, 'still paused 2 s in').to.equal('moving');

    const confirmedAt = performance.now();
    await adminQuery(
      controlDb(),
      'UPDATE instances SET catalog_xmin = pg_snapshot_xmin(pg_current_snapshot()) WHERE id = $1',
      [silent],
    );
    const { result, error } = await outcome;
    expect(error).to.equal(undefined);
    expect(performance.now() - confirmedAt, 'ms from the confirmation to the end of the move').to.be.below(
      1500,
    );
    expect(result!.moved).to.equal(true);
    expect(result!.confirm_ms).to.be.at.least(2000);
    expect(await plane.tp.catalog.requireTenant('waiter')).to.include({
      status: 'active',
      databaseId: dedicatedDatabaseId('waiter'),
    });
  });

  it('stops waiting for a serving instance whose lease lapses', async () => {
    await waiterOn('enterprise');
    const before = await rowsIn(dedicatedDb());
    const result = await mover().move('waiter', { tier: 'starter' }, TEST_ACTOR, async (progress) => {
      // Renewed just as the tenant is paused, then never again: it lapses 2.5 s into the pause.
      if (progress.phase === 'paused') await silentInstance(2500);
    });
    expect(result.moved).to.equal(true);
    expect(result.confirm_ms, 'ms waited for confirmations').to.be.within(2000, 5000);
    expect(await plane.tp.catalog.requireTenant('waiter')).to.include({
      status: 'active',
      databaseId: 'shard-one',
    });
    expect(await rowsIn(shardDb())).to.deep.equal(before);
  });

  it('rolls the move back when a serving instance does not confirm in time', async () => {
    await waiterOn('starter');
    const before = await rowsIn(shardDb());
    await silentInstance(60000);
    const failure = await mover({ confirmTimeoutMs: 1500 })
      .move('waiter', { tier: 'enterprise' }, TEST_ACTOR)
      .then(
        () => undefined,
        (error: TenantplaneError) => error,
      );
    expect([failure?.status, failure?.code]).to.deep.equal([503, 'move_confirmation_timeout']);
    expect(await plane.tp.catalog.requireTenant('waiter')).to.include({
      status: 'active',
      databaseId: 'shard-one',
    });
    expect(await rowsIn(shardDb())).to.deep.equal(before);
    const dedicated = await adminQuery('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [
      dedicatedDb(),
    ]);
    expect(dedicated.rowCount, 'the target database').to.equal(0);
  });

  it('moves a tenant while one of two serving instances has a silent change channel, losing no write either acknowledged', async () => {
    await waiterOn('starter');
    proxy = await startPgProxy();
    const other = await plane.openAnother({ controlDatabaseUrl: proxy.url(controlDb()) });
    const otherServer = await other.listen(0, '127.0.0.1');
    try {
      const bases = [
        await plane.listen(),
        `http://127.0.0.1:${(otherServer.address() as { port: number }).port}`,
      ];
      const token = await plane.mint({ tenantId: 'waiter' });
      const rows = await rowsIn(shardDb());
      const traffic = bases.map((base, index) => {
        const one = new Traffic(base, token);
        one.seed(rows.filter((_, position) => position % 2 === index));
        one.start(2);
        return one;
      });
      await sleep(300);
      // From here the second instance hears nothing on its LISTEN connection, and nothing closes it.
      proxy.hold((connection) => connection.listens);
      const result = await mover().move('waiter', { tier: 'enterprise' }, TEST_ACTOR);
      await sleep(300);
      await Promise.all(traffic.map((one) => one.stop()));
      proxy.release();

      expect(result.moved).to.equal(true);
      const expected = expectedRows(...traffic);
      expect(await rowsIn(dedicatedDb())).to.deep.equal(expected);
      expect(await rowsIn(shardDb()), 'rows left on the shard').to.deep.equal([]);
      for (const one of traffic) {
        expect(one.count(201), 'rows created through each instance').to.be.greaterThan(5);
        expect(
          [...one.statuses.keys()].filter((status) => ![200, 201, 204, 503].includes(status)),
        ).to.deep.equal([]);
      }
      expect(result.confirm_ms).to.be.a('number');
    } finally {
      proxy.release();
      otherServer.closeAllConnections();
      await new Promise((resolve) => otherServer.close(resolve));
    }
  });

  it('is confirmed while a long transaction runs elsewhere on the control database’s server', async () => {
    await waiterOn('starter');
    // A transaction with an xid, open on another database of the same server (a backup's snapshot, a
    // fleet migration's lock wait): it holds the server's oldest running xid back for as long as it runs.
    const other = `${plane.prefix}_long_runner`;
    await adminQuery('postgres', `CREATE DATABASE "${other}"`);
    const long = new pg.Client({ connectionString: adminUrlFor(other) });
    await long.connect();
    try {
      await long.query('BEGIN');
      await long.query('SELECT pg_current_xact_id()');
      const result = await mover({ confirmTimeoutMs: 5000 }).move(
        'waiter',
        { tier: 'enterprise' },
        TEST_ACTOR,
      );
      expect(result.moved).to.equal(true);
      expect(result.confirm_ms).to.be.below(5000);
    } finally {
      await long.query('ROLLBACK').catch(() => {});
      await long.end();
      await adminQuery('postgres', `DROP DATABASE IF EXISTS "${other}"`);
    }
  });
});
