/**
 * `npm run bench:backup`: one dedicated tenant with about 1 GB of rows (--size-mb), timed through
 * tenantplane's export, encrypted backup and restore, against pg_dump -Fc and pg_restore of the same
 * database on the same machine; and the peak RSS of backup and restore at two data sizes. Under the
 * superuser admin, a managed-PostgreSQL-style admin, or both interleaved (--admin). See README.md.
 */
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { ADMIN_HELP, parseAdmins, withAdminPlanes } from '../lib/admin-planes.js';
import { log } from '../lib/log.js';
import { numberOption, parseFlags } from '../lib/options.js';
import { resultFiles, writeJson } from '../lib/results.js';
import { measure, type Settings } from './measure.js';
import { report } from './report.js';

const HELP = `npm run bench:backup -- [flags]

  --size-mb N        approximate size of the big tenant's rows on disk (default 1024)
  --small-mb N       size of the second tenant, for the memory comparison (default size/8)
  --uncompressed     store the rows as COPY text (default: compressed with zstd, as backups are)
  --repeat N         rounds of backup (each admin) + pg_dump, restore (each admin) + pg_restore per size;
                     best kept (default 2)
${ADMIN_HELP}
  --help
`;

async function main(): Promise<void> {
  const startedAt = new Date();
  const values = parseFlags(
    process.argv.slice(2),
    {
      'size-mb': { type: 'string' },
      'small-mb': { type: 'string' },
      uncompressed: { type: 'boolean', default: false },
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
  const settings: Settings = { sizeMb, smallMb, repeat, compress: !values.uncompressed };

  const results = await withAdminPlanes(
    { admins, serverId: 'pg-bench', maxConnections: 20, options: { serveTraffic: false } },
    (planes) =>
      measure(
        planes.map((plane) => ({
          ...plane,
          env: plane.plane.cliEnv({ BENCH_COMPRESS: values.uncompressed ? '0' : '1' }),
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
