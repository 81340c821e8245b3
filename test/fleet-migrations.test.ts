import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { dedicatedDatabaseId } from '../src/catalog/records.js';
import { MIGRATOR_APPLICATION_NAME } from '../src/migrations/database-migrator.js';
import type { FleetRunResult } from '../src/migrations/fleet-runner.js';
import type { Tenantplane } from '../src/tenantplane.js';
import {
  adminQuery,
  copyOfTenantMigrations,
  createTestPlane,
  TEST_ACTOR,
  type TestPlane,
} from './support/test-plane.js';

const FLEET_SIZE = 32;

describe('fleet migrations', function () {
  this.timeout(120000);
  let plane: TestPlane<Tenantplane>;
  let migrationsDir: string;
  const tenantIds = Array.from(
    { length: FLEET_SIZE - 2 },
    (_, index) => `fleet-${String(index).padStart(2, '0')}`,
  );
  const databaseOf = (id: string) => `${plane.prefix}_t_${id.replaceAll('-', '_')}`;
  let allDatabases: string[];

  const waitForRunnerSessionsToEnd = async () => {
    for (let attempt = 0; attempt < 200; attempt += 1) {
      const { rows } = await adminQuery<{ count: number }>(
        'postgres',
        'SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = $1 AND datname = ANY($2)',
        [MIGRATOR_APPLICATION_NAME, allDatabases],
      );
      if (rows[0]?.count === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('the killed runner still has sessions on the fleet after 10 s');
  };

  const addMigration = (name: string, up: string, down?: string) =>
    Promise.all([
      writeFile(path.join(migrationsDir, `${name}.sql`), up),
      down ? writeFile(path.join(migrationsDir, `${name}.down.sql`), down) : undefined,
    ]);
  const run = async (options: Parameters<Awaited<ReturnType<typeof plane.tp.fleetRunner>>['run']>[0]) =>
    (await plane.tp.fleetRunner()).run(options);
  const appliedIn = async (database: string) =>
    (
      await adminQuery<{ name: string }>(
        database,
        'SELECT name FROM tenantplane.schema_migrations ORDER BY name',
      )
    ).rows.map((row) => row.name);
  const hasColumn = async (database: string, column: string) =>
    (
      await adminQuery(
        database,
        `SELECT 1 FROM information_schema.columns WHERE table_name = 'deployments' AND column_name = $1`,
        [column],
      )
    ).rowCount === 1;

  before(async () => {
    migrationsDir = await copyOfTenantMigrations();
    plane = await createTestPlane({ serveTraffic: false, tenantMigrationsDir: migrationsDir });
    await plane.addServer('pg-main', 40);
    await plane.tp.shards.add({ id: 'shard-a', serverId: 'pg-main' }, TEST_ACTOR);
    await plane.tp.shards.add({ id: 'shard-b', serverId: 'pg-main' }, TEST_ACTOR);
    for (const id of tenantIds) await plane.tp.tenants.create({ id, tier: 'enterprise' }, TEST_ACTOR);
    allDatabases = [`${plane.prefix}_s_shard_a`, `${plane.prefix}_s_shard_b`, ...tenantIds.map(databaseOf)];
    await addMigration(
      '0003_deployment_region',
      "ALTER TABLE deployments ADD COLUMN region text NOT NULL DEFAULT 'eu';\nCREATE INDEX deployments_region_idx ON deployments (tenant_id, region);",
      'DROP INDEX deployments_region_idx;\nALTER TABLE deployments DROP COLUMN region;',
    );
  });
  after(async () => {
    await plane.close();
    await rm(migrationsDir, { recursive: true, force: true });
  });

  it('lists pending migrations on a dry run and changes nothing', async () => {
    const result = await run({ direction: 'up', dryRun: true, actor: 'test' });
    expect(result.runId).to.equal(undefined);
    expect(result.targets).to.have.length(FLEET_SIZE);
    expect(result.targets.every((target) => target.planned.join() === '0003_deployment_region')).to.equal(
      true,
    );
    expect(await hasColumn(databaseOf('fleet-00'), 'region')).to.equal(false);
    expect(await plane.tp.knex('migration_runs').count<{ count: string }[]>('* as count')).to.deep.equal([
      { count: '0' },
    ]);
  });

  it('fails one database cleanly while the rest succeed, then re-runs only that one', async () => {
    const broken = databaseOf('fleet-07');
    await adminQuery(broken, 'CREATE INDEX deployments_region_idx ON deployments (status)');
    const first = await run({ direction: 'up', actor: 'test' });
    expect(first.status).to.equal('failed');
    expect(first.failed.map((target) => target.databaseId)).to.deep.equal([dedicatedDatabaseId('fleet-07')]);
    expect(first.failed[0]!.error).to.include('deployments_region_idx');
    const ledger = await plane.tp.ledger.getRun(first.runId!);
    const byStatus = (status: string) => ledger!.targets.filter((target) => target.status === status).length;
    expect([byStatus('succeeded'), byStatus('failed')]).to.deep.equal([FLEET_SIZE - 1, 1]);
    expect(await hasColumn(broken, 'region'), 'the failed migration left no half-applied DDL').to.equal(
      false,
    );

    await adminQuery(broken, 'DROP INDEX deployments_region_idx');
    const second = await run({ direction: 'up', actor: 'test' });
    expect(second.status).to.equal('succeeded');
    const migrated = second.targets
      .filter((target) => target.applied.length > 0)
      .map((target) => target.databaseId);
    expect(migrated).to.deep.equal([dedicatedDatabaseId('fleet-07')]);
    for (const database of allDatabases) expect(await hasColumn(database, 'region'), database).to.equal(true);
    const secondLedger = await plane.tp.ledger.getRun(second.runId!);
    expect(secondLedger!.targets.find((target) => target.databaseId === 'tenant:fleet-07')).to.include({
      status: 'succeeded',
      attempts: 1,
    });
  });

  it('applies each migration exactly once when two runners start at once', async () => {
    await addMigration(
      '0004_workflow_owner',
      'ALTER TABLE workflows ADD COLUMN owner text;',
      'ALTER TABLE workflows DROP COLUMN owner;',
    );
    const results: FleetRunResult[] = await Promise.all([
      run({ direction: 'up', actor: 'runner-1', concurrency: 4 }),
      run({ direction: 'up', actor: 'runner-2', concurrency: 4 }),
    ]);
    expect(results.map((result) => result.failed.length)).to.deep.equal([0, 0]);
    const applications = results.flatMap((result) => result.targets.flatMap((target) => target.applied));
    expect(applications).to.have.length(FLEET_SIZE);
    expect(new Set(applications)).to.deep.equal(new Set(['0004_workflow_owner']));
  });

  it('leaves no migration recorded without its DDL when a runner is SIGKILLed, and a re-run finishes', async () => {
    await addMigration(
      '0005_slow_backfill',
      "ALTER TABLE deployments ADD COLUMN notes text;\nSELECT pg_sleep(0.25);\nUPDATE deployments SET notes = '';",
      'ALTER TABLE deployments DROP COLUMN notes;',
    );
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'migrate', 'up', '--concurrency', '2'],
      {
        env: plane.cliEnv({ TENANT_MIGRATIONS_DIR: migrationsDir }),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    // Kill it once a few databases are done, with others mid-migration.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`runner made no progress: ${output}`)), 60000);
      child.stdout.on('data', () => {
        if ((output.match(/\] .* succeeded/g) ?? []).length >= 4) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    // A migration the runner had already sent ends on the server (committing with its ledger row, or
    // not at all) after the runner is gone; count only once those sessions are over.
    await waitForRunnerSessionsToEnd();

    let done = 0;
    for (const database of allDatabases) {
      const recorded = (await appliedIn(database)).includes('0005_slow_backfill');
      expect(await hasColumn(database, 'notes'), database).to.equal(recorded);
      if (recorded) done += 1;
    }
    expect(done).to.be.within(4, FLEET_SIZE - 1);
    const rerun = await run({ direction: 'up', actor: 'test' });
    expect(rerun.status).to.equal('succeeded');
    expect(rerun.targets.filter((target) => target.applied.length > 0)).to.have.length(FLEET_SIZE - done);
    for (const database of allDatabases) expect(await hasColumn(database, 'notes'), database).to.equal(true);
  });

  it('stops the run when a canary fails, before the rest are touched', async () => {
    await addMigration(
      '0006_audit_kind',
      'ALTER TABLE audit_events ADD COLUMN kind text;',
      'ALTER TABLE audit_events DROP COLUMN kind;',
    );
    // Databases run in id order, so shard-a is a canary; give it a conflicting column.
    await adminQuery(`${plane.prefix}_s_shard_a`, 'ALTER TABLE audit_events ADD COLUMN kind text');
    const result = await run({ direction: 'up', actor: 'test', canary: 2, concurrency: 2 });
    expect(result.status).to.equal('canary_failed');
    expect(result.targets).to.have.length(2);
    expect(result.failed.map((target) => target.databaseId)).to.deep.equal(['shard-a']);
    const ledger = await plane.tp.ledger.getRun(result.runId!);
    expect(
      ledger!.targets.filter((target) => target.status === 'skipped' && target.error?.includes('canary')),
    ).to.have.length(FLEET_SIZE - 2);
    for (const id of tenantIds) expect(await appliedIn(databaseOf(id)), id).not.to.include('0006_audit_kind');
    await adminQuery(`${plane.prefix}_s_shard_a`, 'ALTER TABLE audit_events DROP COLUMN kind');
    expect((await run({ direction: 'up', actor: 'test', canary: 2 })).status).to.equal('succeeded');
  });

  it('rolls the fleet back with down migrations', async () => {
    const result = await run({ direction: 'down', to: '0004_workflow_owner', actor: 'test' });
    expect(result.status).to.equal('succeeded');
    expect(
      result.targets.every((target) => target.applied.join() === '0006_audit_kind,0005_slow_backfill'),
    ).to.equal(true);
    for (const database of allDatabases) {
      expect(await appliedIn(database)).to.deep.equal([
        '0001_application_tables',
        '0002_row_level_security',
        '0003_deployment_region',
        '0004_workflow_owner',
      ]);
      expect(await hasColumn(database, 'notes')).to.equal(false);
    }
  });

  it('migrates a single --target and reports drift', async () => {
    const result = await run({ direction: 'up', actor: 'test', target: 'tenant:fleet-03' });
    expect(result.targets.map((target) => target.databaseId)).to.deep.equal(['tenant:fleet-03']);
    await adminQuery(
      databaseOf('fleet-04'),
      "INSERT INTO tenantplane.schema_migrations (name) VALUES ('0099_from_elsewhere')",
    );
    const statuses = await plane.tp.migrationStatus();
    const fleet03 = statuses.find((status) => status.databaseId === 'tenant:fleet-03')!;
    const fleet04 = statuses.find((status) => status.databaseId === 'tenant:fleet-04')!;
    expect(fleet03).to.deep.include({ pending: [], drift: false });
    expect(fleet04).to.deep.include({ unknown: ['0099_from_elsewhere'], drift: true });
    expect(fleet04.pending).to.deep.equal(['0005_slow_backfill', '0006_audit_kind']);
    expect(statuses).to.have.length(FLEET_SIZE);
  });

  it('creates new tenants at the latest version', async () => {
    await plane.tp.tenants.create({ id: 'latecomer', tier: 'enterprise' }, TEST_ACTOR);
    expect(await appliedIn(databaseOf('latecomer'))).to.have.length(6);
  });
});

describe('fleet migrations outside a transaction and in TypeScript', function () {
  this.timeout(120000);
  let plane: TestPlane<Tenantplane>;
  let migrationsDir: string;

  before(async () => {
    migrationsDir = await copyOfTenantMigrations();
    plane = await createTestPlane({ serveTraffic: false, tenantMigrationsDir: migrationsDir });
    await plane.addServer('pg-main', 40);
    for (const id of ['cic-a', 'cic-b', 'cic-c'])
      await plane.tp.tenants.create({ id, tier: 'enterprise' }, TEST_ACTOR);
    for (const id of ['cic-a', 'cic-b', 'cic-c']) {
      await adminQuery(
        `${plane.prefix}_t_${id.replace('-', '_')}`,
        `INSERT INTO deployments (tenant_id, project_name, status) SELECT $1, 'p' || g, 'ready' FROM generate_series(1, 20000) g`,
        [id],
      );
    }
  });
  after(async () => {
    await plane.close();
    await rm(migrationsDir, { recursive: true, force: true });
  });

  it('runs CREATE INDEX CONCURRENTLY without deadlocking against a waiting runner', async () => {
    await writeFile(
      path.join(migrationsDir, '0003_concurrent_index.sql'),
      '-- tenantplane:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS deployments_project_idx ON deployments (project_name);\n',
    );
    const runs = await Promise.all(
      [1, 2, 3].map(async () =>
        (await plane.tp.fleetRunner()).run({ direction: 'up', actor: 'test', concurrency: 3 }),
      ),
    );
    expect(runs.map((result) => result.status)).to.deep.equal(['succeeded', 'succeeded', 'succeeded']);
    expect(runs.flatMap((result) => result.targets.flatMap((target) => target.applied))).to.have.length(3);
    for (const id of ['cic-a', 'cic-b', 'cic-c']) {
      const index = await adminQuery(
        `${plane.prefix}_t_${id.replace('-', '_')}`,
        `SELECT indisvalid FROM pg_index WHERE indexrelid = 'deployments_project_idx'::regclass`,
      );
      expect(index.rows).to.deep.equal([{ indisvalid: true }]);
    }
  });

  it('runs a TypeScript migration with a knex handle, and its down', async () => {
    await writeFile(
      path.join(migrationsDir, '0004_typed.ts'),
      [
        "import type { Knex } from 'knex';",
        'export async function up(knex: Knex) {',
        "  await knex.schema.alterTable('workflows', (table) => table.integer('priority').notNullable().defaultTo(0));",
        '}',
        'export async function down(knex: Knex) {',
        "  await knex.schema.alterTable('workflows', (table) => table.dropColumn('priority'));",
        '}',
      ].join('\n'),
    );
    const up = await (await plane.tp.fleetRunner()).run({ direction: 'up', actor: 'test' });
    expect(up.targets.map((target) => target.applied)).to.deep.equal([
      ['0004_typed'],
      ['0004_typed'],
      ['0004_typed'],
    ]);
    const column = await adminQuery(
      `${plane.prefix}_t_cic_a`,
      `SELECT column_default FROM information_schema.columns WHERE table_name = 'workflows' AND column_name = 'priority'`,
    );
    expect(column.rows).to.deep.equal([{ column_default: '0' }]);
    const down = await (await plane.tp.fleetRunner()).run({
      direction: 'down',
      to: '0003_concurrent_index',
      actor: 'test',
    });
    expect(down.status).to.equal('succeeded');
    const gone = await adminQuery(
      `${plane.prefix}_t_cic_a`,
      `SELECT 1 FROM information_schema.columns WHERE table_name = 'workflows' AND column_name = 'priority'`,
    );
    expect(gone.rowCount).to.equal(0);
  });
});
