/**
 * `npm run bench:backup`: one dedicated tenant with about 1 GB of rows (--size-mb), timed through
 * tenantplane's export, encrypted backup and restore, against pg_dump -Fc and pg_restore of the same
 * database on the same machine; and the peak RSS of backup and restore at two data sizes. Under the
 * superuser admin, a managed-PostgreSQL-style admin, or both interleaved (--admin). See README.md.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { dedicatedDatabaseName } from '../../src/ids.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { adminQuery, adminUrlFor, TEST_ACTOR } from '../../test/support/test-plane.js';
import { log } from '../lib/log.js';
import { numberOption, parseFlags } from '../lib/options.js';
import { resultFiles, writeJson } from '../lib/results.js';
import { pairedRatios } from '../lib/stats.js';
import { check, fixed, ratiosText, table, targetsTable } from '../lib/tables.js';
import {
  ADMIN_HELP,
  type AdminName,
  type AdminPlane,
  inRoundOrder,
  MANAGED_TARGET,
  managedRatio,
  parseAdmins,
  withAdminPlanes,
} from './admin-planes.js';

const run = promisify(execFile);
const TARGET_RATIO = 1.3;

const HELP = `npm run bench:backup -- [flags]

  --size-mb N        approximate size of the big tenant's rows on disk (default 1024)
  --small-mb N       size of the second tenant, for the memory comparison (default size/8)
  --compress         deflate rows before encryption (default off: plain COPY text, encrypted)
  --repeat N         rounds of backup (each admin) + pg_dump, restore (each admin) + pg_restore per size;
                     best kept (default 2)
${ADMIN_HELP}
  --help
`;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MB`;

function binary(name: string): string {
  const candidate = `/usr/lib/postgresql/15/bin/${name}`;
  return existsSync(candidate) ? candidate : name;
}

async function timed(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const started = process.hrtime.bigint();
  await run(command, args, { env, maxBuffer: 64 * 1024 * 1024 });
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** Runs operation.ts in a child process; its own clock and peak RSS come back as JSON. */
function operation(
  env: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<Record<string, unknown> & { ms: number; maxRssMb: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(PACKAGE_ROOT, 'bench/backup/operation.ts'), ...args],
      {
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`operation ${args.join(' ')} exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1)!));
    });
  });
}

/** Fills the tenant's tables with INSERT ... SELECT generate_series until the database reaches `mb`. */
async function fill(url: string, tenantId: string, mb: number): Promise<{ rows: number; bytes: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const batch = 40_000;
    let rows = 0;
    for (let start = 0; ; start += batch) {
      const size = Number((await client.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n);
      if (size >= mb * 1024 * 1024) {
        await client.query('VACUUM ANALYZE');
        return { rows, bytes: size };
      }
      await client.query('BEGIN');
      await client.query("SELECT set_config('tenantplane.tenant_id', $1, true)", [tenantId]);
      const range = [tenantId, start + 1, start + batch];
      await client.query(
        `INSERT INTO audit_events (tenant_id, actor, action, status, details)
         SELECT $1, 'user-' || (i % 1000), 'deploy.' || (i % 17), 'recorded',
                jsonb_build_object('i', i, 'note', md5(i::text), 'tags', jsonb_build_array('a', 'b'))
           FROM generate_series($2::int, $3::int) i`,
        range,
      );
      await client.query(
        `INSERT INTO deployments (tenant_id, project_name, status, url)
         SELECT $1, 'project-' || (i % 5000), 'ready', 'https://deploy.example.com/' || md5(i::text)
           FROM generate_series($2::int, $3::int) i`,
        range,
      );
      await client.query(
        `INSERT INTO workflows (tenant_id, name, status, config)
         SELECT $1, 'wf-' || i, 'idle', jsonb_build_object('steps', i % 9, 'image', 'node:20')
           FROM generate_series($2::int, $3::int / 4) i`,
        [tenantId, Math.floor(start / 4) + 1, start + batch],
      );
      await client.query('COMMIT');
      rows += batch * 2 + batch / 4;
    }
  } finally {
    await client.end();
  }
}

type Operation = Awaited<ReturnType<typeof operation>>;

interface Side extends AdminPlane {
  /** The environment of its operation.ts children: its plane's catalog and data folder. */
  env: NodeJS.ProcessEnv;
}

/** One admin's runs at one size: its tenant's database, the export, and each round's backup and restore. */
interface AdminRuns {
  database: string;
  filled: { rows: number; bytes: number };
  exported: Operation;
  backups: Operation[];
  restores: Operation[];
}

interface Settings {
  sizeMb: number;
  smallMb: number;
  repeat: number;
  compress: boolean;
}

const STEPS = ['export', 'backup', 'restore'] as const;
type Step = (typeof STEPS)[number];

/** One admin's figures at one size: the best of the rounds, and every round's times. */
interface AdminFigures {
  databaseBytes: number;
  rows: number;
  exportMs: number;
  exportRssMb: number;
  backupMs: number;
  backupRunsMs: number[];
  backupRssMb: number;
  backupBytes: number;
  restoreMs: number;
  restoreRunsMs: number[];
  restoreRssMb: number;
  backupRatio: number;
  restoreRatio: number;
}

interface SizeResult {
  sizeMb: number;
  pgDumpMs: number;
  pgDumpRunsMs: number[];
  pgDumpBytes: number;
  pgRestoreMs: number;
  pgRestoreRunsMs: number[];
  admins: Partial<Record<AdminName, AdminFigures>>;
  /** Best managed over best superuser per step (NaN unless both ran). */
  managedOverSuperuser: Record<Step, number>;
  /** The same per round: the two ran side by side. */
  managedOverSuperuserPerRound: { backup: number[]; restore: number[] };
}

const best = <T extends { ms: number }>(runs: T[]) => runs.reduce((a, b) => (b.ms < a.ms ? b : a));

function stepLine(step: string, admin: AdminName, text: string): void {
  log(`  ${step.padEnd(10)} ${admin.padEnd(9)} ${text}`);
}

async function checkpoint(): Promise<void> {
  await adminQuery('postgres', 'CHECKPOINT');
}

/** Both tenants, one size after the other, under each admin; returns the per-size results. */
async function measure(sides: Side[], settings: Settings): Promise<Record<string, SizeResult>> {
  const { sizeMb, smallMb, repeat } = settings;
  // pg_dump and pg_restore, the baseline, read the first admin's copy of the tenant (as the superuser).
  const reference = sides[0]!;
  const dumpFile = path.join(reference.plane.dataDir, 'dump.pgc');
  const results: Record<string, SizeResult> = {};
  for (const { tenant, mb } of [
    { tenant: 'bench-small', mb: smallMb },
    { tenant: 'bench-big', mb: sizeMb },
  ]) {
    const runs = new Map<AdminName, AdminRuns>();
    for (const side of sides) {
      await side.plane.tp.tenants.create({ id: tenant, tier: 'enterprise' }, TEST_ACTOR);
      const database = dedicatedDatabaseName(side.plane.prefix, tenant);
      log(`filling ${tenant} (${side.admin} admin) to ~${mb} MB ...`);
      const filled = await fill(adminUrlFor(database), tenant, mb);
      log(`  ${filled.rows} rows, database ${mib(filled.bytes)}`);
      runs.set(side.admin, { database, filled, exported: undefined!, backups: [], restores: [] });
    }
    for (const side of sides) {
      await checkpoint();
      const exported = await operation(side.env, 'export', tenant);
      runs.get(side.admin)!.exported = exported;
      stepLine('export', side.admin, `${seconds(exported.ms)}, peak RSS ${exported.maxRssMb.toFixed(0)} MB`);
    }
    // Each round: every admin's backup then pg_dump, every admin's restore then pg_restore, the admins'
    // order alternating between rounds; the best of each is kept, which damps other load.
    const dumps: number[] = [];
    const pgRestores: number[] = [];
    let dumpBytes = 0;
    const referenceUrl = adminUrlFor(runs.get(reference.admin)!.database);
    for (let round = 0; round < repeat; round += 1) {
      const order = inRoundOrder(sides, round);
      for (const side of order) {
        await checkpoint();
        const backup = await operation(side.env, 'backup', tenant);
        runs.get(side.admin)!.backups.push(backup);
        stepLine(
          'backup',
          side.admin,
          `${seconds(backup.ms)}, peak RSS ${backup.maxRssMb.toFixed(0)} MB, ${mib(backup.bytes as number)} stored`,
        );
      }
      await checkpoint();
      const dumpMs = await timed(binary('pg_dump'), ['-Fc', '-f', dumpFile, '-d', referenceUrl]);
      dumps.push(dumpMs);
      dumpBytes = (await stat(dumpFile)).size;
      log(`  pg_dump    ${''.padEnd(9)} ${seconds(dumpMs)}, ${mib(dumpBytes)}`);
      for (const side of order) {
        const own = runs.get(side.admin)!;
        await checkpoint();
        const restore = await operation(side.env, 'restore', tenant, own.backups.at(-1)!.backupId as string);
        own.restores.push(restore);
        stepLine('restore', side.admin, `${seconds(restore.ms)}, peak RSS ${restore.maxRssMb.toFixed(0)} MB`);
      }
      const scratch = `${reference.plane.prefix}_pgrestore`;
      await adminQuery('postgres', `CREATE DATABASE "${scratch}"`);
      await checkpoint();
      const pgRestoreMs = await timed(binary('pg_restore'), ['-d', adminUrlFor(scratch), dumpFile]);
      pgRestores.push(pgRestoreMs);
      log(`  pg_restore ${''.padEnd(9)} ${seconds(pgRestoreMs)}`);
      await adminQuery('postgres', `DROP DATABASE "${scratch}" WITH (FORCE)`);
      await rm(dumpFile, { force: true });
    }
    const pgDumpMs = Math.min(...dumps);
    const pgRestoreMs = Math.min(...pgRestores);
    const admins: SizeResult['admins'] = {};
    const bestMs: Record<Step, Partial<Record<AdminName, number>>> = { export: {}, backup: {}, restore: {} };
    for (const [admin, own] of runs) {
      const backup = best(own.backups);
      const restore = best(own.restores);
      bestMs.export[admin] = own.exported.ms;
      bestMs.backup[admin] = backup.ms;
      bestMs.restore[admin] = restore.ms;
      admins[admin] = {
        databaseBytes: own.filled.bytes,
        rows: own.filled.rows,
        exportMs: own.exported.ms,
        exportRssMb: own.exported.maxRssMb,
        backupMs: backup.ms,
        backupRunsMs: own.backups.map((run) => run.ms),
        backupRssMb: Math.max(...own.backups.map((run) => run.maxRssMb)),
        backupBytes: backup.bytes as number,
        restoreMs: restore.ms,
        restoreRunsMs: own.restores.map((run) => run.ms),
        restoreRssMb: Math.max(...own.restores.map((run) => run.maxRssMb)),
        backupRatio: backup.ms / pgDumpMs,
        restoreRatio: restore.ms / pgRestoreMs,
      };
    }
    // Each round's managed run over the superuser's of the same round (they ran side by side).
    const roundRatios = (step: 'backups' | 'restores') => {
      const times = (admin: AdminName) => runs.get(admin)?.[step].map((run) => run.ms) ?? [];
      return pairedRatios(times('managed'), times('superuser'));
    };
    results[tenant] = {
      sizeMb: mb,
      pgDumpMs,
      pgDumpRunsMs: dumps,
      pgDumpBytes: dumpBytes,
      pgRestoreMs,
      pgRestoreRunsMs: pgRestores,
      admins,
      managedOverSuperuser: Object.fromEntries(
        STEPS.map((step) => [step, managedRatio(bestMs[step])]),
      ) as Record<Step, number>,
      managedOverSuperuserPerRound: { backup: roundRatios('backups'), restore: roundRatios('restores') },
    };
    for (const side of sides) {
      // The small tenant is only for memory; drop it before filling the big one. Each size's backups go too.
      if (tenant === 'bench-small')
        await side.plane.tp.tenants.delete({ id: tenant, confirm: tenant }, TEST_ACTOR);
      await rm(path.join(side.plane.dataDir, 'backups'), { recursive: true, force: true });
    }
  }
  return results;
}

function report(admins: AdminName[], results: Record<string, SizeResult>) {
  const big = results['bench-big']!;
  const small = results['bench-small']!;
  const both = admins.length === 2;
  const row = (label: string, value: (admin: AdminName) => string, ratio?: number) => [
    label,
    ...admins.map(value),
    ...(both ? [ratio === undefined ? '' : fixed(ratio, 2)] : []),
  ];
  const timings = [
    ...STEPS.map((step) => ({ result: big, step })),
    ...(['backup', 'restore'] as const).map((step) => ({ result: small, step })),
  ].map(({ result, step }) =>
    row(
      `${step}, ${result.sizeMb} MB${step === 'export' ? '' : ', best'}`,
      (admin) => seconds(result.admins[admin]![`${step}Ms`]),
      result.managedOverSuperuser[step],
    ),
  );
  const peaks = (['backup', 'restore'] as const).map((step) =>
    row(
      `peak RSS ${step}, ${small.sizeMb} / ${big.sizeMb} MB`,
      (admin) =>
        `${small.admins[admin]![`${step}RssMb`].toFixed(0)} / ${big.admins[admin]![`${step}RssMb`].toFixed(0)} MB`,
    ),
  );
  log();
  log(
    table(
      ['', ...admins, ...(both ? ['managed/superuser'] : [])],
      [
        ...timings,
        row('backup / pg_dump', (admin) => fixed(big.admins[admin]!.backupRatio, 2)),
        row('restore / pg_restore', (admin) => fixed(big.admins[admin]!.restoreRatio, 2)),
        ...peaks,
      ],
    ),
  );
  log(`pg_dump ${seconds(big.pgDumpMs)}, pg_restore ${seconds(big.pgRestoreMs)} (best, the baseline)`);
  const targets = admins.flatMap((admin) => [
    check(`backup / pg_dump, ${admin}`, big.admins[admin]!.backupRatio, '<=', TARGET_RATIO),
    check(`restore / pg_restore, ${admin}`, big.admins[admin]!.restoreRatio, '<=', TARGET_RATIO),
  ]);
  if (both) {
    for (const step of ['backup', 'restore'] as const) {
      const rounds = big.managedOverSuperuserPerRound[step];
      targets.push(
        check(
          `managed / superuser ${step}`,
          big.managedOverSuperuser[step],
          '<=',
          MANAGED_TARGET,
          `rounds: ${ratiosText(rounds)}`,
        ),
      );
    }
  }
  log();
  log(targetsTable(targets));
  return targets;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const values = parseFlags(
    process.argv.slice(2),
    {
      'size-mb': { type: 'string' },
      'small-mb': { type: 'string' },
      compress: { type: 'boolean', default: false },
      repeat: { type: 'string' },
      admin: { type: 'string', default: 'both' },
    },
    HELP,
  );
  if (!values) return;
  const sizeMb = numberOption('size-mb', values['size-mb'], 1024);
  const smallMb = numberOption('small-mb', values['small-mb'], Math.max(16, Math.round(sizeMb / 8)));
  const repeat = numberOption('repeat', values.repeat, 2);
  const admins = parseAdmins(values.admin);
  const settings: Settings = { sizeMb, smallMb, repeat, compress: values.compress };

  const results = await withAdminPlanes(
    { admins, serverId: 'pg-bench', maxConnections: 20, options: { serveTraffic: false } },
    (planes) =>
      measure(
        planes.map((plane) => ({
          ...plane,
          env: plane.plane.cliEnv({ BENCH_COMPRESS: values.compress ? '1' : '0' }),
        })),
        settings,
      ),
  );
  const targets = report(admins, results);
  const files = resultFiles('backup', startedAt);
  await writeJson(files.json, {
    options: { ...settings, admins },
    loadAverage: os.loadavg(),
    results,
    targets,
  });
  log(`results: ${path.relative(PACKAGE_ROOT, files.json)}`);
}

await main();
