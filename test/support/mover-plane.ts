import { setTimeout as sleep } from 'node:timers/promises';
import { createTenantMover } from '../../src/moves/move-jobs.js';
import type { MoveProgress } from '../../src/moves/tenant-mover.js';
import { finishedJob } from './job-status.js';
import type { AdminKind } from './managed-admin.js';
import { type Answer, send } from './request-load.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './test-plane.js';
import { type ExpectedRow, Traffic, tenantRowsIn } from './traffic.js';

/**
 * The plane the tier move suites work on: tenant `mover` with enough rows that its bulk copy takes a while,
 * and a `neighbour` on the same shard whose rows no move may touch. Quotas and rate limits are off: traffic
 * runs flat out, past a starter's quotas.
 */
export interface MoverPlane {
  plane: TestPlane;
  /** The admin URL the server was registered with. */
  adminUrl: string;
  base: string;
  /** A token of `mover`. */
  token: string;
  adminToken: string;
  /** The neighbour's rows before any move. */
  neighbourBefore: unknown[];
  shardDb(): string;
  /** `mover`'s dedicated database. */
  dedicatedDb(): string;
  /** A call of the admin API. */
  admin(method: string, path: string, body?: unknown): Promise<Answer>;
  /** The job once it has completed or failed. */
  // biome-ignore lint/suspicious/noExplicitAny: jobs are checked field by field by the assertions
  waitForJob(jobId: string): Promise<any>;
  /** The tenant's rows as a database holds them (read as the superuser, which row-level security spares). */
  rowsIn(database: string, tenantId?: string): Promise<ExpectedRow[]>;
  databaseExists(name: string): Promise<boolean>;
  neighbourRows(): Promise<unknown[]>;
  /**
   * A move of `mover` whose process "dies" on reaching `phase`: it never goes on from there, and its
   * sessions, the lock's among them, are killed as a crash would.
   */
  crashMoveAt(phase: MoveProgress['phase'], tier: string): Promise<void>;
  /** Traffic of `mover` on the rows `database` holds, started 300 ms ago. */
  trafficFrom(database: string): Promise<Traffic>;
  /**
   * Puts `mover` on `tier` (moving it if the placement differs) unless it is there already: where the test
   * before it left it when a suite runs in order, so only a test run alone pays for the move.
   */
  moverOn(tier: string): Promise<void>;
}

/**
 * Registers, in the calling describe block, the hooks that open the plane before its tests (with `mover`
 * created on `moverTier`, its rows seeded straight into its database) and close it after them.
 */
export function moverPlane(adminKind: AdminKind, moverTier = 'starter'): MoverPlane {
  const fixture = {
    shardDb: () => `${fixture.plane.prefix}_s_shard_one`,
    dedicatedDb: () => `${fixture.plane.prefix}_t_mover`,

    admin: (method: string, path: string, body?: unknown) =>
      send(fixture.base, method, path, fixture.adminToken, body),

    waitForJob: (jobId: string) => finishedJob(fixture.admin, jobId),

    rowsIn: (database: string, tenantId = 'mover') => tenantRowsIn(database, tenantId),

    async databaseExists(name: string) {
      return (
        (await adminQuery('postgres', 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1
      );
    },

    async neighbourRows() {
      return (
        await adminQuery(
          fixture.shardDb(),
          `SELECT id, project_name, status, updated_at::text FROM deployments WHERE tenant_id <> 'mover' ORDER BY id`,
        )
      ).rows;
    },

    async crashMoveAt(phase: MoveProgress['phase'], tier: string) {
      let reached!: () => void;
      const reachedPhase = new Promise<void>((resolve) => {
        reached = resolve;
      });
      void createTenantMover(fixture.plane.tp)
        .move('mover', { tier }, TEST_ACTOR, (progress) => {
          if (progress.phase !== phase) return;
          reached();
          return new Promise<void>(() => {});
        })
        .catch(() => {});
      await reachedPhase;
      // Only this plane's movers (all its databases carry its prefix): a run beside this one keeps its own.
      await adminQuery(
        'postgres',
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = 'tenantplane-mover' AND datname LIKE $1`,
        [`${fixture.plane.prefix}\\_%`],
      );
    },

    async trafficFrom(database: string) {
      const traffic = new Traffic(fixture.base, fixture.token);
      traffic.seed(await fixture.rowsIn(database));
      traffic.start();
      await sleep(300);
      return traffic;
    },

    async moverOn(tier: string) {
      await createTenantMover(fixture.plane.tp).move('mover', { tier }, TEST_ACTOR);
    },
  } as MoverPlane;

  before(async () => {
    const plane = await createTestPlane({}, { RATE_LIMITS: 'off' });
    fixture.plane = plane;
    await adminQuery(
      `${plane.prefix}_control`,
      'UPDATE tiers SET max_users = NULL, max_deployments = NULL, max_workflows = NULL, max_storage_bytes = NULL',
    );
    fixture.adminUrl = await adminKind.register(plane);
    await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'mover', tier: moverTier }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'neighbour', tier: 'pro' }, TEST_ACTOR);
    const placed = await plane.tp.catalog.requireTenant('mover');
    const moverDb = (await plane.tp.catalog.getDatabase(placed.databaseId!))!.databaseName;
    // Enough rows that the bulk copy takes a while, seeded straight into the tenant's database.
    await adminQuery(
      moverDb,
      `INSERT INTO deployments (tenant_id, project_name, status)
         SELECT 'mover', 'seed-' || n, 'ready' FROM generate_series(1, 3000) n;
       INSERT INTO workflows (tenant_id, name, status, config)
         SELECT 'mover', 'flow-' || n, 'ready', jsonb_build_object('n', n) FROM generate_series(1, 500) n;`,
    );
    await adminQuery(
      fixture.shardDb(),
      `INSERT INTO deployments (tenant_id, project_name, status)
         SELECT 'neighbour', 'n-' || n, 'ready' FROM generate_series(1, 200) n;`,
    );
    fixture.neighbourBefore = await fixture.neighbourRows();
    fixture.base = await plane.listen();
    fixture.token = await plane.mint({ tenantId: 'mover' });
    fixture.adminToken = await plane.mint({ admin: true });
  });

  after(async () => {
    await fixture.plane.close();
  });

  return fixture;
}
