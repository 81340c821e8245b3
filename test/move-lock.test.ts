import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { dedicatedDatabaseId } from '../src/catalog/records.js';
import { TenantplaneError } from '../src/errors/index.js';
import { createLogger } from '../src/logging/logger.js';
import { lockTenantMove, MOVER_APPLICATION_NAME, type TenantLock } from '../src/moves/move-lock.js';
import type { MoveProgress } from '../src/moves/tenant-mover.js';
import type { ServingTenantplane } from '../src/tenantplane.js';
import { rejection } from './support/async-helpers.js';
import { ADMIN_KINDS, createManagedAdmin } from './support/managed-admin.js';
import {
  adminQuery,
  adminUrlFor,
  createTestPlane,
  dropEverything,
  TEST_ACTOR,
  type TestPlane,
} from './support/test-plane.js';

const HOLDER_SCRIPT = fileURLToPath(new URL('./support/move-lock-holder.ts', import.meta.url));

/** The backend pids of the sessions holding the tenant's move lock in `database`. */
async function lockHolders(database: string, tenantId: string): Promise<number[]> {
  const { rows } = await adminQuery<{ pid: number }>(
    'postgres',
    `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE a.application_name = $3 AND l.locktype = 'advisory' AND l.granted
        AND l.database = (SELECT oid FROM pg_database WHERE datname = $1)
        AND l.classid = hashtext('tenantplane.move')::oid AND l.objid = hashtext($2)::oid`,
    [database, tenantId, MOVER_APPLICATION_NAME],
  );
  return rows.map((row) => row.pid);
}

/** Ends the sessions holding the tenant's move lock, and waits until the lock is free. */
async function terminateLock(database: string, tenantId: string): Promise<void> {
  const holders = await lockHolders(database, tenantId);
  expect(holders, 'sessions holding the move lock').to.have.length(1);
  await adminQuery('postgres', 'SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) pid', [holders]);
  const deadline = Date.now() + 5000;
  while ((await lockHolders(database, tenantId)).length > 0) {
    if (Date.now() > deadline) throw new Error('the terminated session still holds the lock');
    await sleep(20);
  }
}

async function until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

function expectLockLost(error: unknown, tenantId: string): void {
  expect(error, String(error)).to.be.instanceOf(TenantplaneError);
  expect(error).to.include({ code: 'move_lock_lost', status: 503 });
  expect((error as Error).message).to.contain(`lost the move lock of tenant ${tenantId}`);
}

/** Starts a process that takes the tenant's move lock; resolves once it holds it. */
async function startHolder(url: string, tenantId: string, heartbeatMs: number, staleAfterMs: number) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', HOLDER_SCRIPT, url, tenantId, String(heartbeatMs), String(staleAfterMs)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit');
  const locked = until('the holder has the lock', () => stdout.includes('locked'), 20000);
  const outcome = await Promise.race([locked.then(() => 'locked'), exited.then(() => 'exited')]);
  if (outcome !== 'locked') throw new Error(`the lock holder exited: ${stderr}`);
  return child;
}

/** Writes rows for the tenant through the router without pause; `acknowledged` are the ones that succeeded. */
class Writes {
  readonly acknowledged: string[] = [];
  #stopped = false;
  readonly #done: Promise<void>;

  constructor(tp: ServingTenantplane, tenantId: string) {
    this.#done = (async () => {
      for (let step = 0; !this.#stopped; step++) {
        const name = `w-${step}`;
        try {
          const handle = await tp.router.forTenant(tenantId);
          await handle.query(
            "INSERT INTO deployments (tenant_id, project_name, status) VALUES ($1, $2, 'queued')",
            [tenantId, name],
          );
          this.acknowledged.push(name);
        } catch {
          // Refused (paused): not acknowledged.
        }
        await sleep(10);
      }
    })();
  }

  stop(): Promise<void> {
    this.#stopped = true;
    return this.#done;
  }
}

const LOCK_ROLES = [
  { name: 'the superuser', url: async (_prefix: string, database: string) => adminUrlFor(database) },
  {
    name: 'a managed-PostgreSQL role (no superuser)',
    url: async (prefix: string, database: string) => {
      const url = new URL(await createManagedAdmin(prefix, 'lock_holder'));
      url.pathname = `/${database}`;
      return url.toString();
    },
  },
];

for (const role of LOCK_ROLES) {
  describe(`the move lock, held by ${role.name}`, function () {
    this.timeout(60000);
    const prefix = `t${randomBytes(4).toString('hex')}`;
    let url: string;
    let knex: Knex;
    const children: ChildProcess[] = [];

    before(async () => {
      url = await role.url(prefix, 'postgres');
      knex = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 2 } });
    });
    after(async () => {
      for (const child of children) child.kill('SIGKILL');
      await knex.destroy();
      await dropEverything(prefix);
    });

    it('is lost out loud when its connection drops: its signal aborts and assertHeld refuses', async () => {
      const tenantId = `lock-${randomBytes(4).toString('hex')}`;
      const lock: TenantLock = await lockTenantMove(url, tenantId, {
        heartbeatMs: 500,
        staleAfterMs: 3000,
        logger: createLogger('silent'),
      });
      try {
        await lock.assertHeld(knex);
        const conflict = await rejection<TenantplaneError>(lockTenantMove(url, tenantId));
        expect(conflict).to.include({ code: 'move_in_progress', status: 409 });
        expect(conflict.message).to.equal(`tenant ${tenantId} is already being moved or restored`);

        await terminateLock('postgres', tenantId);
        await until('the lock is lost', () => lock.signal.aborted);
        expectLockLost(lock.signal.reason, tenantId);
        expectLockLost(await rejection(lock.assertHeld(knex)), tenantId);
      } finally {
        await lock.release();
      }
    });

    it('held by a process that froze, expires within its stale time and can be taken again', async () => {
      const tenantId = `lock-${randomBytes(4).toString('hex')}`;
      const staleAfterMs = 2000;
      const child = await startHolder(url, tenantId, 500, staleAfterMs);
      children.push(child);
      // Frozen: no heartbeat any more, while its TCP connection stays open.
      child.kill('SIGSTOP');
      const frozenAt = Date.now();
      const refused = await rejection<TenantplaneError>(lockTenantMove(url, tenantId));
      expect(refused.code).to.equal('move_in_progress');

      let lock: TenantLock | undefined;
      while (!lock && Date.now() - frozenAt < staleAfterMs + 5000) {
        lock = await lockTenantMove(url, tenantId).catch((error: TenantplaneError) => {
          if (error.code !== 'move_in_progress') throw error;
          return undefined;
        });
        if (!lock) await sleep(200);
      }
      expect(lock, `the lock is free again within ${staleAfterMs + 5000} ms of its holder freezing`).to.not.be
        .undefined;
      try {
        await lock!.assertHeld(knex);
      } finally {
        await lock!.release();
        child.kill('SIGKILL');
      }
    });
  });
}

for (const adminKind of ADMIN_KINDS) {
  describe(`a tier move whose lock connection drops, with a ${adminKind.name}`, function () {
    this.timeout(120000);
    let plane: TestPlane;
    const control = () => `${plane.prefix}_control`;
    const shardDb = () => `${plane.prefix}_s_shard_one`;

    async function names(database: string): Promise<string[]> {
      const { rows } = await adminQuery<{ name: string }>(
        database,
        "SELECT project_name AS name FROM deployments WHERE tenant_id = 'mover'",
      );
      return rows.map((row) => row.name).sort();
    }

    before(async () => {
      plane = await createTestPlane({}, { RATE_LIMITS: 'off' });
      await adminKind.register(plane);
      await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
      await plane.tp.tenants.create({ id: 'mover', tier: 'starter' }, TEST_ACTOR);
      await adminQuery(
        shardDb(),
        `INSERT INTO deployments (tenant_id, project_name, status)
         SELECT 'mover', 'seed-' || n, 'ready' FROM generate_series(1, 1000) n`,
      );
    });
    after(() => plane.close());

    for (const phase of ['catching_up', 'paused'] as const) {
      it(`fails and rolls back when the lock is lost at ${phase}, losing no acknowledged row`, async () => {
        const before = await names(shardDb());
        const writes = new Writes(plane.tp, 'mover');
        const failure = await rejection(
          plane.tp.mover.move('mover', { tier: 'enterprise' }, TEST_ACTOR, async (progress: MoveProgress) => {
            if (progress.phase !== phase) return;
            await sleep(200);
            await terminateLock(control(), 'mover');
            // Give the lock's connection time to hear of it; the move must stop by itself regardless.
            await sleep(100);
          }),
        );
        await sleep(200);
        await writes.stop();

        expectLockLost(failure, 'mover');
        expect(await plane.tp.catalog.requireTenant('mover')).to.include({
          tier: 'starter',
          status: 'active',
          databaseId: 'shard-one',
        });
        expect(writes.acknowledged.length, 'rows written during the move').to.be.greaterThan(0);
        expect(await names(shardDb())).to.deep.equal([...before, ...writes.acknowledged].sort());
        expect(await plane.tp.catalog.getDatabase(dedicatedDatabaseId('mover'))).to.equal(undefined);
        const target = await adminQuery('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [
          `${plane.prefix}_t_mover`,
        ]);
        expect(target.rowCount, 'the target database').to.equal(0);
        expect((await adminQuery(control(), 'SELECT 1 FROM tenant_moves')).rowCount).to.equal(0);
        const failed = await adminQuery<{ details: { error: string } }>(
          control(),
          "SELECT details FROM audit_log WHERE tenant_id = 'mover' AND action = 'tenant.move_failed' ORDER BY id DESC LIMIT 1",
        );
        expect(failed.rows[0]?.details.error).to.contain('lost the move lock');
        expect(await lockHolders(control(), 'mover'), 'the lock is free').to.deep.equal([]);
      });
    }
  });
}
