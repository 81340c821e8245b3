import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { finishedJob } from './job-status.js';
import type { AdminKind } from './managed-admin.js';
import { type Answer, send } from './request-load.js';
import { createTestCluster, type TestCluster } from './test-cluster.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './test-plane.js';
import { type ExpectedRow, type SuperuserQuery, Traffic, tenantRowsIn } from './traffic.js';

/** The second server's admin role: no superuser, as on managed PostgreSQL. */
const SECOND_ADMIN = 'tp_second_admin';

export type ServerId = 'pg-one' | 'pg-two';

/**
 * A plane with two PostgreSQL servers in region `eu`: `pg-one` (the test PostgreSQL, registered the way
 * `adminKind` says) with shards `shard-a` and `shard-b`, and `pg-two` (a cluster of the test's own,
 * registered through an admin role without superuser) with `shard-c`. Tenant `mover` has 3,500 rows on
 * `shard-a`, beside `neighbour`'s 200. Quotas and rate limits are off: traffic runs flat out.
 */
export interface TwoServers {
  plane: TestPlane;
  cluster: TestCluster;
  base: string;
  adminToken: string;
  /** A token of `mover`. */
  token: string;
  neighbourBefore: unknown[];
  admin(method: string, path: string, body?: unknown): Promise<Answer>;
  /** The job once it has completed or failed. */
  // biome-ignore lint/suspicious/noExplicitAny: jobs are checked field by field by the assertions
  waitForJob(jobId: string): Promise<any>;
  /** A superuser statement on a database of either server. */
  query(server: ServerId, database: string, text: string, values?: unknown[]): ReturnType<SuperuserQuery>;
  /** Where the catalog places the tenant now: its server and database name. */
  placementOf(tenantId?: string): Promise<{ server: ServerId; databaseId: string; databaseName: string }>;
  rowsIn(server: ServerId, database: string, tenantId?: string): Promise<ExpectedRow[]>;
  /** Capture triggers left on a database (see src/moves/change-capture.ts). */
  captureTriggers(server: ServerId, database: string): Promise<string[]>;
  neighbourRows(): Promise<unknown[]>;
  /** Traffic on `mover`'s rows where they are now, started 300 ms ago. */
  traffic(): Promise<Traffic>;
}

export function twoServers(adminKind: AdminKind): TwoServers {
  const secondPassword = randomBytes(12).toString('hex');
  const fixture = {
    admin: (method: string, path: string, body?: unknown) =>
      send(fixture.base, method, path, fixture.adminToken, body),

    waitForJob: (jobId: string) => finishedJob(fixture.admin, jobId),

    query(server: ServerId, database: string, text: string, values: unknown[] = []) {
      return server === 'pg-one'
        ? adminQuery(database, text, values)
        : fixture.cluster.query(database, text, values);
    },

    async placementOf(tenantId = 'mover') {
      const tenant = await fixture.plane.tp.catalog.requireTenant(tenantId);
      const database = (await fixture.plane.tp.catalog.getDatabase(tenant.databaseId!))!;
      return {
        server: database.serverId as ServerId,
        databaseId: database.id,
        databaseName: database.databaseName,
      };
    },

    rowsIn: (server: ServerId, database: string, tenantId = 'mover') =>
      tenantRowsIn(database, tenantId, ((db, text, values) =>
        fixture.query(server, db, text, values)) as SuperuserQuery),

    async captureTriggers(server: ServerId, database: string) {
      const { rows } = await fixture.query(
        server,
        database,
        "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'tenantplane_cap%' ORDER BY 1",
      );
      return rows.map((row) => row.tgname as string);
    },

    async neighbourRows() {
      return (
        await adminQuery(
          `${fixture.plane.prefix}_s_shard_a`,
          `SELECT id, project_name, status, updated_at::text FROM deployments WHERE tenant_id = 'neighbour' ORDER BY id`,
        )
      ).rows;
    },

    async traffic() {
      const where = await fixture.placementOf();
      const traffic = new Traffic(fixture.base, fixture.token);
      traffic.seed(await fixture.rowsIn(where.server, where.databaseName));
      traffic.start();
      await sleep(300);
      return traffic;
    },
  } as TwoServers;

  before(async () => {
    fixture.cluster = await createTestCluster();
    await fixture.cluster.query(
      'postgres',
      `CREATE ROLE ${SECOND_ADMIN} LOGIN CREATEDB CREATEROLE NOSUPERUSER NOBYPASSRLS PASSWORD '${secondPassword}' IN ROLE pg_read_all_stats`,
    );
    const plane = await createTestPlane({}, { RATE_LIMITS: 'off' });
    fixture.plane = plane;
    await adminQuery(`${plane.prefix}_control`, 'DELETE FROM tier_quotas');
    await adminKind.register(plane, 'pg-one');
    await adminQuery(`${plane.prefix}_control`, "UPDATE servers SET region = 'eu'");
    await plane.tp.servers.add(
      {
        id: 'pg-two',
        adminUrl: fixture.cluster.url(SECOND_ADMIN, secondPassword),
        maxConnections: 40,
        region: 'eu',
      },
      TEST_ACTOR,
    );
    await plane.tp.shards.add({ id: 'shard-a', serverId: 'pg-one' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'mover', tier: 'starter' }, TEST_ACTOR);
    await plane.tp.tenants.create({ id: 'neighbour', tier: 'pro' }, TEST_ACTOR);
    await plane.tp.shards.add({ id: 'shard-b', serverId: 'pg-one' }, TEST_ACTOR);
    await plane.tp.shards.add({ id: 'shard-c', serverId: 'pg-two' }, TEST_ACTOR);
    await adminQuery(
      `${plane.prefix}_s_shard_a`,
      `INSERT INTO deployments (tenant_id, project_name, status)
         SELECT 'mover', 'seed-' || n, 'ready' FROM generate_series(1, 3000) n;
       INSERT INTO workflows (tenant_id, name, status, config)
         SELECT 'mover', 'flow-' || n, 'ready', jsonb_build_object('n', n) FROM generate_series(1, 500) n;
       INSERT INTO deployments (tenant_id, project_name, status)
         SELECT 'neighbour', 'n-' || n, 'ready' FROM generate_series(1, 200) n;`,
    );
    fixture.neighbourBefore = await fixture.neighbourRows();
    fixture.base = await plane.listen();
    fixture.token = await plane.mint({ tenantId: 'mover' });
    fixture.adminToken = await plane.mint({ admin: true });
  });

  after(async () => {
    await fixture.plane?.close();
    await fixture.cluster?.drop();
  });

  return fixture;
}
