/**
 * One timed operation of bench:backup in its own process, so its peak RSS is its own:
 *   operation.ts export|backup|restore <tenant> [backup-id]
 * Reads the plane from the environment (CONTROL_DATABASE_URL, BACKUP_URL, ...) and prints one JSON line:
 * {ms, maxRssMb, ...}.
 */
import { backupTenant } from '../../src/backup/tenant-backup.js';
import { exportTenant, newArchiveId } from '../../src/backup/tenant-export.js';
import { restoreTenant } from '../../src/backup/tenant-restore.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logging/logger.js';
import { Tenantplane } from '../../src/tenantplane.js';

const [operation, tenantId, backupId] = process.argv.slice(2);
if (!operation || !tenantId)
  throw new Error('usage: operation.ts export|backup|restore <tenant> [backup-id]');

const tp = await Tenantplane.open({
  config: loadConfig(),
  logger: createLogger('warn'),
  serveTraffic: false,
  migrate: false,
});
try {
  const deps = tp.backups.deps;
  const started = process.hrtime.bigint();
  let extra: Record<string, unknown> = {};
  if (operation === 'export') {
    const result = await exportTenant(deps, tenantId, { exportId: newArchiveId() });
    extra = { bytes: result.manifest.tables.reduce((sum, table) => sum + table.bytes, 0) };
  } else if (operation === 'backup') {
    const backup = await backupTenant(deps, tenantId, newArchiveId(), {
      compress: process.env.BENCH_COMPRESS === '1',
    });
    extra = { backupId: backup.id, bytes: backup.sizeBytes, rows: backup.rowCounts };
  } else if (operation === 'restore') {
    // Where the time goes: reading the header and fencing, loading the rows, then building the indexes
    // and committing (from the last table loaded to the fence's end), then giving the tenant back.
    const at = () => Math.round(Number(process.hrtime.bigint() - started) / 1e6);
    const phases: Record<string, number> = {};
    const result = await restoreTenant(deps, tenantId, backupId!, {
      actor: { actor: 'bench-backup' },
      onFence: (phase) => {
        phases[phase] = at();
      },
      onProgress: () => {
        phases.loaded = at();
      },
    });
    extra = { rows: result.tables, phases: { ...phases, done: at() } };
  } else {
    throw new Error(`unknown operation ${operation}`);
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ ms, maxRssMb, ...extra })}\n`);
} finally {
  await tp.close();
}
