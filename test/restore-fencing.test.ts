import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import pg from 'pg';
import { backupTenant } from '../src/backup/tenant-backup.js';
import { newArchiveId } from '../src/backup/tenant-export.js';
import { type RestoreDeps, restoreTenant } from '../src/backup/tenant-restore.js';
import type { TenantplaneError } from '../src/errors/index.js';
import type { FencePhase } from '../src/moves/tenant-fence.js';
import type { ServingTenantplane } from '../src/tenantplane.js';
import { rejection } from './support/async-helpers.js';
import { ADMIN_KINDS } from './support/managed-admin.js';
import { type Outcome, RequestLoad, summary } from './support/request-load.js';
import {
  adminQuery,
  adminUrlFor,
  createTestPlane,
  TEST_ACTOR,
  type TestPlane,
} from './support/test-plane.js';

const SEEDED = 150000;

for (const adminKind of ADMIN_KINDS) {
  describe(`restoring a tenant in place with a ${adminKind.name}`, function () {
    this.timeout(120000);
    let plane: TestPlane;
    let second: ServingTenantplane;
    let bases: string[];
    let deps: RestoreDeps;
    const shardDb = () => `${plane.prefix}_s_shard_one`;
    const controlDb = () => `${plane.prefix}_control`;

    /** The restored tenant's deployments, id → status, as the database holds them (read as the superuser). */
    async function deployments(tenantId = 'restored'): Promise<Map<string, string>> {
      const { rows } = await adminQuery<{ id: string; status: string }>(
        shardDb(),
        'SELECT id::text, status FROM deployments WHERE tenant_id = $1',
        [tenantId],
      );
      return new Map(rows.map((row) => [row.id, row.status]));
    }

    async function tenantStatus(tenantId = 'restored'): Promise<string> {
      return (await plane.tp.catalog.requireTenant(tenantId)).status;
    }

    before(async () => {
      // A short acquire timeout: requests stuck behind the restore's row locks would starve the shard's pool
      // for its neighbours within it.
      plane = await createTestPlane({}, { RATE_LIMITS: 'off', ROUTER_ACQUIRE_TIMEOUT_MS: '1000' });
      await adminQuery(
        controlDb(),
        'UPDATE tiers SET max_users = NULL, max_deployments = NULL, max_workflows = NULL, max_storage_bytes = NULL',
      );
      await adminKind.register(plane);
      await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'restored', tier: 'starter' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'neighbour', tier: 'starter' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'small', tier: 'starter' }, TEST_ACTOR);
      // Enough rows that loading them takes a while.
      await adminQuery(
        shardDb(),
        `INSERT INTO deployments (tenant_id, project_name, status)
           SELECT 'restored', 'seed-' || n, 'backed-up' FROM generate_series(1, ${SEEDED}) n;
         INSERT INTO deployments (tenant_id, project_name, status)
           SELECT 'neighbour', 'n-' || n, 'ready' FROM generate_series(1, 50) n;
         INSERT INTO deployments (tenant_id, project_name, status)
           SELECT 'small', 's-' || n, 'ready' FROM generate_series(1, 200) n;`,
      );
      // Two serving instances: the fence waits for both to refuse the tenant.
      second = await plane.openAnother();
      const secondServer = await second.listen(0, '127.0.0.1');
      bases = [await plane.listen(), `http://127.0.0.1:${(secondServer.address() as { port: number }).port}`];
      deps = plane.tp.backups.deps;
    });
    after(async () => {
      await plane.close();
    });

    it('pauses the tenant for the load: no write made meanwhile survives, neighbours never get 503', async () => {
      const backup = await backupTenant(deps, 'restored', newArchiveId());
      const backedUp = await deployments();
      const neighbourRows = await deployments('neighbour');
      const updated = [...backedUp.keys()].slice(0, 24);

      const token = await plane.mint({ tenantId: 'restored' });
      const neighbourToken = await plane.mint({ tenantId: 'neighbour' });
      const loads = bases.map((base, index) => new RequestLoad(base, `i${index}`, 10000));
      loads.forEach((load, index) => {
        for (let n = 0; n < 12; n++) load.run('restored', token, 'update', 5, updated[index * 12 + n]);
        load.run('restored', token, 'write', 5);
        load.run('neighbour', neighbourToken, 'read', 5);
        load.run('neighbour', neighbourToken, 'write', 5);
      });
      await Promise.all(loads.map((load) => load.warmedUp(['neighbour'])));
      await sleep(300);

      const phases = new Map<FencePhase, number>();
      const result = await restoreTenant(deps, 'restored', backup.id, {
        actor: TEST_ACTOR,
        onFence: (phase) => phases.set(phase, performance.now()),
      });
      const returned = performance.now();
      await sleep(500);
      await Promise.all(loads.map((load) => load.stop()));
      expect(result.tables.deployments).to.equal(SEEDED);
      expect(await tenantStatus()).to.equal('active');

      const outcomes: Outcome[] = loads.flatMap((load) => load.outcomes);
      const neighbours = outcomes.filter((o) => o.tenant === 'neighbour');
      expect(
        neighbours.filter((o) => o.status >= 300),
        `neighbour answers: ${summary(neighbours)}`,
      ).to.deep.equal([]);
      const own = outcomes.filter((o) => o.tenant === 'restored');
      const refused = own.filter((o) => o.status >= 300);
      expect(
        refused.filter((o) => o.status !== 503 || o.code !== 'tenant_moving' || o.retryAfter === null),
        `the tenant's answers: ${summary(own)}`,
      ).to.deep.equal([]);
      expect(refused.length, 'requests refused during the load').to.be.greaterThan(0);

      // Acknowledged before the tenant was given back: replaced by the backup. After: kept.
      const resuming = phases.get('resuming') ?? returned;
      const resumed = phases.get('resumed') ?? returned;
      const replaced = (o: Outcome) => o.status < 300 && o.started < resuming;
      const kept = (o: Outcome) => o.status < 300 && o.started > resumed;
      const rows = await deployments();
      const createdBefore = own.filter((o) => o.kind === 'write' && replaced(o)).map((o) => o.id!);
      const createdAfter = own.filter((o) => o.kind === 'write' && kept(o)).map((o) => o.id!);
      expect(createdBefore.length, 'rows created before the load').to.be.greaterThan(0);
      expect(createdAfter.length, 'rows created after the restore').to.be.greaterThan(0);
      expect(
        createdBefore.filter((id) => rows.has(id)),
        'rows created before the restore that survived it',
      ).to.deep.equal([]);
      expect(
        createdAfter.filter((id) => !rows.has(id)),
        'rows created after the restore that are missing',
      ).to.deep.equal([]);
      for (const id of backedUp.keys()) expect(rows.has(id), `backed-up row ${id}`).to.equal(true);
      const setBefore = new Set(own.filter((o) => o.kind === 'update' && replaced(o)).map((o) => o.value));
      const survivors = updated.filter((id) => setBefore.has(rows.get(id)));
      expect(survivors, 'updates made before the restore that survived it').to.deep.equal([]);
      const neighbourAfter = await deployments('neighbour');
      for (const [id, status] of neighbourRows) expect(neighbourAfter.get(id), `row ${id}`).to.equal(status);
      const fences = await adminQuery(controlDb(), 'SELECT * FROM tenant_moves');
      expect(fences.rowCount).to.equal(0);
    });

    it('refuses to restore while the tenant moves, and a move while it restores', async () => {
      const backup = await backupTenant(deps, 'small', newArchiveId());
      let reached!: () => void;
      const copying = new Promise<void>((resolve) => {
        reached = resolve;
      });
      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const move = plane.tp.mover.move('small', { tier: 'enterprise' }, TEST_ACTOR, (progress) => {
        if (progress.phase !== 'copying') return;
        reached();
        return held;
      });
      await copying;
      const refused = await rejection<TenantplaneError>(
        restoreTenant(deps, 'small', backup.id, { actor: TEST_ACTOR }),
      );
      expect(refused.code).to.equal('move_in_progress');
      release();
      await move;
      await plane.tp.mover.move('small', { tier: 'starter' }, TEST_ACTOR);
      expect(await plane.tp.catalog.requireTenant('small')).to.include({
        tier: 'starter',
        status: 'active',
      });

      // A row lock the restore's load waits on (held by the superuser, whose sessions the drain ignores).
      const blocker = new pg.Client({ connectionString: adminUrlFor(shardDb()) });
      await blocker.connect();
      try {
        await blocker.query('BEGIN');
        await blocker.query("SELECT 1 FROM deployments WHERE tenant_id = 'small' LIMIT 1 FOR UPDATE");
        let paused!: () => void;
        const fenced = new Promise<void>((resolve) => {
          paused = resolve;
        });
        const restore = restoreTenant(deps, 'small', backup.id, {
          actor: TEST_ACTOR,
          onFence: (phase) => phase === 'paused' && paused(),
        });
        await fenced;
        const moveRefused = await rejection<TenantplaneError>(
          plane.tp.mover.move('small', { tier: 'enterprise' }, TEST_ACTOR),
        );
        expect(moveRefused.code).to.equal('move_in_progress');
        await blocker.query('COMMIT');
        await restore;
      } finally {
        await blocker.end();
      }
      expect(await plane.tp.catalog.requireTenant('small')).to.include({
        tier: 'starter',
        status: 'active',
      });
    });

    it('gives the tenant its status back when the restore fails, and after a crash inside the fence', async () => {
      const backup = await backupTenant(deps, 'small', newArchiveId());
      const rowsBefore = await deployments('small');
      // An application-role transaction begun before the pause that outlasts the drain fails the restore.
      let begun!: () => void;
      const inTransaction = new Promise<void>((resolve) => {
        begun = resolve;
      });
      const holding = (await second.router!.forTenant('neighbour')).transaction(async (trx) => {
        await trx.query('SELECT 1');
        begun();
        await sleep(1500);
      });
      await inTransaction;
      const failing = await rejection<TenantplaneError>(
        restoreTenant({ ...deps, drainTimeoutMs: 1 }, 'small', backup.id, { actor: TEST_ACTOR }),
      );
      await holding;
      expect(failing.code).to.equal('move_drain_timeout');
      expect(await tenantStatus('small')).to.equal('active');
      expect(await deployments('small')).to.deep.equal(rowsBefore);

      // What a process killed inside the fence leaves: the tenant paused, its fence on record.
      const tenant = await plane.tp.catalog.requireTenant('small');
      await adminQuery(
        controlDb(),
        `UPDATE tenants SET status = 'moving' WHERE id = 'small';
         INSERT INTO tenant_moves (tenant_id, from_database_id, to_database_id, from_tier, to_tier, from_status, state)
           VALUES ('small', '${tenant.databaseId}', '${tenant.databaseId}', 'starter', 'starter', 'active', 'copying')`,
      );
      await restoreTenant(deps, 'small', backup.id, { actor: TEST_ACTOR });
      expect(await tenantStatus('small')).to.equal('active');
      expect((await adminQuery(controlDb(), 'SELECT 1 FROM tenant_moves')).rowCount).to.equal(0);

      // A move finds such a leftover too, and undoes it before moving.
      await adminQuery(
        controlDb(),
        `UPDATE tenants SET status = 'moving' WHERE id = 'small';
         INSERT INTO tenant_moves (tenant_id, from_database_id, to_database_id, from_tier, to_tier, from_status, state)
           VALUES ('small', '${tenant.databaseId}', '${tenant.databaseId}', 'starter', 'starter', 'active', 'copying')`,
      );
      const moved = await plane.tp.mover.move('small', { tier: 'enterprise' }, TEST_ACTOR);
      expect(moved.moved).to.equal(true);
      await plane.tp.mover.move('small', { tier: 'starter' }, TEST_ACTOR);
      expect(await tenantStatus('small')).to.equal('active');
    });
  });
}
