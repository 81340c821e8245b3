import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { BACKUP_QUEUE } from '../src/backup/backup-jobs.js';
import { requestBackup } from '../src/backup/backup-operations.js';
import { drillBackup } from '../src/backup/drills/restore-drill.js';
import { backupScheduleHandlers } from '../src/backup/schedules/backup-scheduler.js';
import { BACKUP_SCHEDULE_QUEUE } from '../src/backup/schedules/schedule-tick.js';
import { dropAbandonedScratchDatabases, withScratchDatabase } from '../src/backup/scratch-database.js';
import type { Tenantplane } from '../src/tenantplane.js';
import { addManagedServer } from './support/managed-admin.js';
import { adminQuery, createTestPlane, TEST_ACTOR, type TestPlane } from './support/test-plane.js';

/** Rows in the drilled tenant's largest table: enough that a drill's load is caught under way. */
const ROWS = 40000;

/**
 * A drill killed mid-load leaves its scratch database behind (nothing in the process gets to drop it); the
 * next scratch database made on the server, or the schedule's hourly sweep, drops it, and never one a live
 * drill or restore is using. The server is registered through a managed-PostgreSQL admin role.
 */
describe('scratch databases left by a killed drill', function () {
  this.timeout(120000);
  let plane: TestPlane<Tenantplane>;
  let backupId: string;
  const scratchPattern = () => `${plane.prefix}\\_x\\_%`;

  async function scratchDatabases(): Promise<string[]> {
    const { rows } = await adminQuery<{ datname: string }>(
      'postgres',
      'SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY datname',
      [scratchPattern()],
    );
    return rows.map((row) => row.datname);
  }

  /** Starts `tenantctl backups drill` and SIGKILLs it while it loads rows into its scratch database. */
  async function killDrillMidLoad(): Promise<string> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'backups', 'drill', 'drilled'],
      {
        env: plane.cliEnv({ REDIS_URL: '', LOG_LEVEL: 'warn' }),
        stdio: 'ignore',
      },
    );
    const exited = once(child, 'exit');
    try {
      for (;;) {
        expect(child.exitCode, 'the drill ended before its load was seen').to.equal(null);
        const { rows } = await adminQuery<{ datname: string }>(
          'postgres',
          `SELECT datname FROM pg_stat_activity
            WHERE datname LIKE $1 AND state = 'active' AND query LIKE 'COPY % FROM STDIN%'`,
          [scratchPattern()],
        );
        if (rows.length > 0) {
          child.kill('SIGKILL');
          await exited;
          return rows[0]!.datname;
        }
        await sleep(5);
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }

  before(async () => {
    plane = await createTestPlane({ serveTraffic: false });
    await addManagedServer(plane, 'pg-main');
    await plane.tp.tenants.create({ id: 'drilled', tier: 'enterprise' }, TEST_ACTOR);
    await adminQuery(
      `${plane.prefix}_t_drilled`,
      `INSERT INTO deployments (tenant_id, project_name, status)
         SELECT 'drilled', 'project-' || n, 'ready' FROM generate_series(1, ${ROWS}) n`,
    );
    const queued = await requestBackup(plane.tp.backups, 'drilled', { actor: TEST_ACTOR });
    backupId = ((await plane.tp.jobs.wait(BACKUP_QUEUE, queued.jobId)) as { id: string }).id;
  });
  after(async () => {
    await plane?.close();
  });

  it('is dropped by the next drill on the server, which passes', async () => {
    const leftover = await killDrillMidLoad();
    expect(await scratchDatabases()).to.deep.equal([leftover]);
    // The killed drill never recorded a result.
    const unfinished = await plane.tp
      .knex('backup_drills')
      .where({ tenant_id: 'drilled' })
      .whereNull('finished_at');
    expect(unfinished).to.have.length(1);

    const next = await drillBackup(plane.tp.backups.deps, 'drilled', backupId, TEST_ACTOR);
    expect(next.passed, JSON.stringify(next.details)).to.equal(true);
    expect(next.details.scratch_database).to.not.equal(leftover);
    expect(next.details.tables?.deployments?.rows_found).to.equal(ROWS);
    expect(await scratchDatabases()).to.deep.equal([]);
  });

  it("is dropped by the schedule's first tick in a process, which leaves a scratch database in use alone", async () => {
    const leftover = await killDrillMidLoad();
    const deps = plane.tp.backups.deps;
    const tick = backupScheduleHandlers({ backups: plane.tp.backups, jobs: plane.tp.jobs })[
      BACKUP_SCHEDULE_QUEUE
    ]!;
    await withScratchDatabase(
      {
        catalog: deps.catalog,
        serverId: 'pg-main',
        databasePrefix: deps.databasePrefix,
        migrationsDir: deps.migrationsDir,
      },
      async (inUse) => {
        // Made after the kill, it dropped the leftover already: a second one is left to the tick's sweep.
        expect(await scratchDatabases()).to.deep.equal([inUse.name]);
        const second = await killDrillMidLoad();
        expect((await scratchDatabases()).sort()).to.deep.equal([inUse.name, second].sort());
        await (tick as (data: unknown, context: unknown) => Promise<unknown>)(
          {},
          { attempt: 1, progress: async () => {} },
        );
        expect(await scratchDatabases()).to.deep.equal([inUse.name]);
        // Asked directly, too: a leased database is never taken for abandoned.
        expect(
          await dropAbandonedScratchDatabases({
            catalog: deps.catalog,
            serverId: 'pg-main',
            databasePrefix: deps.databasePrefix,
          }),
        ).to.deep.equal([]);
        expect(await scratchDatabases()).to.deep.equal([inUse.name]);
      },
    );
    expect(leftover).to.not.equal(undefined);
    expect(await scratchDatabases()).to.deep.equal([]);
  });
});
