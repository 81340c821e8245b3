/**
 * `npm run bench:backup`: one dedicated tenant with about 1 GB of rows (--size-mb), timed through
 * tenantplane's export, encrypted backup and restore, against pg_dump -Fc and pg_restore of the same
 * database on the same machine; and the peak RSS of backup and restore at two data sizes. See README.md.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logging/logger.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { Tenantplane } from '../../src/tenantplane.js';
import { TEST_POSTGRES_URL } from '../../test/setup/hooks.js';
import { adminQuery, adminUrlFor, dropEverything } from '../../test/support/test-plane.js';

const run = promisify(execFile);
const RESULTS_DIR = path.join(PACKAGE_ROOT, 'bench/results');
const TARGET_RATIO = 1.3;

const HELP = `npm run bench:backup -- [flags]

  --size-mb N        approximate size of the big tenant's rows on disk (default 1024)
  --small-mb N       size of the second tenant, for the memory comparison (default size/8)
  --compress         deflate rows before encryption (default off: plain COPY text, encrypted)
  --repeat N         timed pairs (backup + pg_dump, restore + pg_restore) per size; best kept (default 2)
  --help
`;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MB`;

function log(line = ''): void {
  process.stdout.write(`${line}\n`);
}

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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'size-mb': { type: 'string', default: '1024' },
      'small-mb': { type: 'string' },
      compress: { type: 'boolean', default: false },
      repeat: { type: 'string', default: '2' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return log(HELP);
  const sizeMb = Number(values['size-mb']);
  const smallMb = values['small-mb'] ? Number(values['small-mb']) : Math.max(16, Math.round(sizeMb / 8));
  const repeat = Number(values.repeat);
  if (!(sizeMb > 0) || !(smallMb > 0)) throw new Error('--size-mb and --small-mb must be positive');
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error('--repeat must be a positive integer');

  const prefix = `bb${randomBytes(4).toString('hex')}`;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tenantplane-bench-backup-'));
  const storeDir = path.join(dataDir, 'store');
  const dumpFile = path.join(dataDir, 'dump.pgc');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CONTROL_DATABASE_URL: adminUrlFor(`${prefix}_control`),
    TENANT_DATABASE_PREFIX: prefix,
    TENANTPLANE_DATA_DIR: dataDir,
    BACKUP_URL: `file://${storeDir}`,
    BENCH_COMPRESS: values.compress ? '1' : '0',
  };
  let tp: Tenantplane | undefined;
  try {
    await adminQuery('postgres', `CREATE DATABASE "${prefix}_control"`);
    tp = await Tenantplane.open({
      config: loadConfig(env),
      logger: createLogger('warn'),
      serveTraffic: false,
    });
    await tp.servers.add(
      { id: 'pg-bench', adminUrl: TEST_POSTGRES_URL, maxConnections: 20 },
      { actor: 'bench' },
    );
    const sizes: Array<{ tenant: string; mb: number }> = [
      { tenant: 'bench-small', mb: smallMb },
      { tenant: 'bench-big', mb: sizeMb },
    ];
    const results: Record<string, Record<string, unknown>> = {};
    for (const { tenant, mb } of sizes) {
      await tp.tenants.create({ id: tenant, tier: 'enterprise' }, { actor: 'bench' });
      const database = `${prefix}_t_${tenant.replaceAll('-', '_')}`;
      const url = adminUrlFor(database);
      log(`filling ${tenant} to ~${mb} MB ...`);
      const filled = await fill(url, tenant, mb);
      log(`  ${filled.rows} rows, database ${(filled.bytes / 1048576).toFixed(0)} MB`);
      await adminQuery('postgres', 'CHECKPOINT');

      const exported = await operation(env, 'export', tenant);
      log(`  export     ${seconds(exported.ms)}, peak RSS ${exported.maxRssMb.toFixed(0)} MB`);
      // Each pair runs back to back, `repeat` times; the best of each is kept, which damps other load.
      const backups: Awaited<ReturnType<typeof operation>>[] = [];
      const dumps: number[] = [];
      const restores: Awaited<ReturnType<typeof operation>>[] = [];
      const pgRestores: number[] = [];
      let dumpBytes = 0;
      for (let round = 0; round < repeat; round += 1) {
        await adminQuery('postgres', 'CHECKPOINT');
        const backup = await operation(env, 'backup', tenant);
        backups.push(backup);
        log(
          `  backup     ${seconds(backup.ms)}, peak RSS ${backup.maxRssMb.toFixed(0)} MB, ${mib(backup.bytes as number)} stored`,
        );
        await adminQuery('postgres', 'CHECKPOINT');
        const dumpMs = await timed(binary('pg_dump'), ['-Fc', '-f', dumpFile, '-d', url]);
        dumps.push(dumpMs);
        dumpBytes = (await stat(dumpFile)).size;
        log(`  pg_dump    ${seconds(dumpMs)}, ${mib(dumpBytes)}`);
        await adminQuery('postgres', 'CHECKPOINT');
        const restore = await operation(env, 'restore', tenant, backup.backupId as string);
        restores.push(restore);
        log(`  restore    ${seconds(restore.ms)}, peak RSS ${restore.maxRssMb.toFixed(0)} MB`);
        const scratch = `${prefix}_pgrestore`;
        await adminQuery('postgres', `CREATE DATABASE "${scratch}"`);
        await adminQuery('postgres', 'CHECKPOINT');
        const pgRestoreMs = await timed(binary('pg_restore'), ['-d', adminUrlFor(scratch), dumpFile]);
        pgRestores.push(pgRestoreMs);
        log(`  pg_restore ${seconds(pgRestoreMs)}`);
        await adminQuery('postgres', `DROP DATABASE "${scratch}" WITH (FORCE)`);
        await rm(dumpFile, { force: true });
      }
      await rm(storeDir, { recursive: true, force: true });
      const best = <T extends { ms: number }>(runs: T[]) => runs.reduce((a, b) => (b.ms < a.ms ? b : a));
      const backup = best(backups);
      const restore = best(restores);
      const dumpMs = Math.min(...dumps);
      const restoreMs = Math.min(...pgRestores);
      results[tenant] = {
        sizeMb: mb,
        databaseBytes: filled.bytes,
        rows: filled.rows,
        exportMs: exported.ms,
        exportRssMb: exported.maxRssMb,
        backupMs: backup.ms,
        backupRssMb: Math.max(...backups.map((run) => run.maxRssMb)),
        backupBytes: backup.bytes,
        pgDumpMs: dumpMs,
        pgDumpBytes: dumpBytes,
        restoreMs: restore.ms,
        restoreRssMb: Math.max(...restores.map((run) => run.maxRssMb)),
        pgRestoreMs: restoreMs,
        backupRatio: backup.ms / dumpMs,
        restoreRatio: restore.ms / restoreMs,
      };
      // The small tenant is only for memory; drop it before filling the big one.
      if (tenant === 'bench-small')
        await tp.tenants.delete({ id: tenant, confirm: tenant }, { actor: 'bench' });
    }
    const big = results['bench-big']!;
    const small = results['bench-small']!;
    log();
    log(`backup / pg_dump     ${(big.backupRatio as number).toFixed(2)}  (target ≤ ${TARGET_RATIO})`);
    log(`restore / pg_restore ${(big.restoreRatio as number).toFixed(2)}  (target ≤ ${TARGET_RATIO})`);
    log(
      `peak RSS backup  ${(small.backupRssMb as number).toFixed(0)} MB at ${smallMb} MB, ${(big.backupRssMb as number).toFixed(0)} MB at ${sizeMb} MB`,
    );
    log(
      `peak RSS restore ${(small.restoreRssMb as number).toFixed(0)} MB at ${smallMb} MB, ${(big.restoreRssMb as number).toFixed(0)} MB at ${sizeMb} MB`,
    );
    await mkdir(RESULTS_DIR, { recursive: true });
    const file = path.join(RESULTS_DIR, `backup-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    await writeFile(
      file,
      `${JSON.stringify({ options: { sizeMb, smallMb, repeat, compress: values.compress }, loadAverage: os.loadavg(), results }, null, 2)}\n`,
    );
    log(`results: ${path.relative(PACKAGE_ROOT, file)}`);
  } finally {
    await tp?.close();
    await dropEverything(prefix);
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
