import type pg from 'pg';
import type { Actor } from '../../catalog/catalog.js';
import { BackupIntegrityError, NotFoundError, TenantplaneError } from '../../errors/index.js';
import { assertSlug } from '../../ids.js';
import { copyOut } from '../../postgres/copy-out.js';
import { databaseExists, withAdminClient } from '../../provisioning/admin-connection.js';
import { tenantTables } from '../../provisioning/tenant-database.js';
import { inTenantTransaction } from '../../tenant-session/tenant-transaction.js';
import type { BackupRecord } from '../backup-catalog.js';
import type { ContainerHeader, ContainerRecord } from '../backup-container.js';
import { completeBackup, readBackup } from '../backup-reader.js';
import { withScratchDatabase } from '../scratch-database.js';
import { clearTenantRows, loadRecords } from '../table-loader.js';
import type { TableProgress } from '../tenant-export.js';
import { locateTenant } from '../tenant-location.js';
import type { RestoreDeps } from '../tenant-restore.js';
import { pinOutputSettings, tableColumns, tenantRowsQuery } from '../tenant-snapshot.js';
import { BackupDrills, type DrillDetails, type DrillRecord, type DrillTable } from './backup-drills.js';
import { drillSlotsFor, withDrillSlot } from './drill-slots.js';
import { RowDigest } from './row-digest.js';
import { tableDigestsOf } from './table-digests.js';

export interface DrillOptions {
  /** Tables as they are loaded into the scratch database. */
  onProgress?: TableProgress;
  /** How long to wait for a drill slot on the server, in ms (see withDrillSlot). Default 10 minutes. */
  slotWaitMs?: number;
}

/** The backup a drill takes when none is named: the tenant's newest complete one. */
export async function newestCompleteBackup(deps: RestoreDeps, tenantId: string): Promise<BackupRecord> {
  const newest = (await deps.backups.list(assertSlug(tenantId))).find(
    (backup) => backup.state === 'complete',
  );
  if (!newest) throw new NotFoundError(`tenant ${tenantId} has no complete backup`, 'backup_not_found');
  return newest;
}

/**
 * A restore drill: restores the backup into a scratch database on the tenant's server (migrated to the
 * backup's schema), reads the loaded rows back, and compares each table's row count and digest with the
 * backup's manifest (its catalog row: `row_counts`, and `table_digests` for backups recorded with them;
 * older backups are checked by counts only, and the drill says so). The result, pass or fail with the
 * reason and the time each phase took, is recorded in `backup_drills` and audited; the scratch database is
 * always dropped, and the record says whether it was found gone. A drill that cannot read or load the
 * backup fails; it never throws once it has started, except when it cannot record its result.
 *
 * This is what scheduled drills call (per tier `drill_every_seconds`), and what the drill job runs.
 */
export async function drillBackup(
  deps: RestoreDeps,
  tenantId: string,
  backupId: string,
  actor: Actor,
  options: DrillOptions = {},
): Promise<DrillRecord> {
  const backup = await completeBackup(deps, assertSlug(tenantId), backupId);
  const location = await locateTenant(deps.catalog, tenantId);
  const drills = new BackupDrills(deps.catalog.knex);
  const drill = await drills.start(tenantId, backupId);
  const timings: Record<string, number> = {};
  const details: DrillDetails = { timings_ms: timings };
  const began = performance.now();
  let passed = false;
  try {
    const server = await deps.catalog.getServer(location.serverId);
    const expectedDigests = await tableDigestsOf(deps.catalog.knex, backup.id);
    details.method = expectedDigests ? 'counts_and_digests' : 'counts';
    const found = await withDrillSlot(
      deps.controlDatabaseUrl,
      location.serverId,
      drillSlotsFor(server?.maxConnections ?? 1),
      options.slotWaitMs ?? 600_000,
      () => restoreIntoScratch(deps, backup, details, timings, options.onProgress),
    );
    details.tables = compare(backup, expectedDigests, found);
    const wrong = Object.entries(details.tables).filter(([, table]) => !table.ok);
    passed = wrong.length === 0;
    if (!passed) {
      details.error = `${wrong.map(([name]) => name).join(', ')} differ from the backup's manifest`;
      details.error_code = 'drill_mismatch';
    }
  } catch (error) {
    details.error = error instanceof Error ? error.message : String(error);
    details.error_code = error instanceof TenantplaneError ? error.code : 'failed';
    // A prune may take an older backup while it is drilled: its object goes first, which reads as damage.
    const now = await deps.backups.get(tenantId, backupId).catch(() => backup);
    if (now?.state !== 'complete') {
      details.error = `the backup was pruned while it was drilled (${details.error})`;
      details.error_code = 'backup_pruned';
    }
    deps.logger.warn({ err: error, tenant: tenantId, backup: backupId }, 'restore drill failed');
  }
  if (details.scratch_database !== undefined) {
    details.scratch_dropped = await scratchGone(deps, location.serverId, details.scratch_database);
    if (!details.scratch_dropped) {
      passed = false;
      details.error ??= `the scratch database ${details.scratch_database} was not dropped`;
    }
  }
  timings.total = Math.round(performance.now() - began);
  const finished = await drills.finish(drill.id, passed, details);
  await deps.catalog.audit(actor, 'tenant.backup.drill', tenantId, {
    backupId,
    drillId: drill.id,
    passed,
    ...(details.error === undefined ? {} : { error: details.error }),
  });
  return finished;
}

/** Rows and digest per table as the scratch database holds them after the load. */
type FoundTables = Record<string, { rows: number; digest: string }>;

async function restoreIntoScratch(
  deps: RestoreDeps,
  backup: BackupRecord,
  details: DrillDetails,
  timings: Record<string, number>,
  onProgress: TableProgress | undefined,
): Promise<FoundTables> {
  const location = await locateTenant(deps.catalog, backup.tenantId);
  let phase = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = Math.round(now - phase);
    phase = now;
  };
  try {
    return await withScratchDatabase(
      {
        catalog: deps.catalog,
        serverId: location.serverId,
        databasePrefix: deps.databasePrefix,
        migrationsDir: deps.migrationsDir,
        tenantId: backup.tenantId,
      },
      async (scratch) => {
        details.scratch_database = scratch.name;
        // The backup's own schema: its rows load as they were written, and read back as the same text.
        if (backup.schemaVersion) await scratch.migrate(backup.schemaVersion);
        lap('migrate');
        return withAdminClient(scratch.adminUrl, (client) =>
          inTenantTransaction(client, backup.tenantId, async () => {
            let header: ContainerHeader | undefined;
            // Loaded as a restore into the tenant's own database is: indexes built once after the load,
            // which also proves the unique ones hold.
            const cleared = await clearTenantRows(client, 'dedicated', backup.tenantId);
            await loadRecords(
              client,
              checkedRecords(readBackup(deps, backup), (seen) => (header = seen)),
              {
                tenantId: backup.tenantId,
                sourceTenantId: backup.tenantId,
                exclusive: true,
                freezable: cleared.freezable,
                ...(onProgress ? { onProgress } : {}),
              },
            );
            await cleared.rebuildIndexes();
            if (header?.schemaVersion !== backup.schemaVersion) {
              throw new BackupIntegrityError(
                'the backup data and the catalog disagree on its schema version',
              );
            }
            lap('load');
            const found = await readBack(client, backup.tenantId);
            lap('check');
            return found;
          }),
        );
      },
    );
  } finally {
    lap('drop');
  }
}

/** Passes the records through, handing the header to `onHeader`. */
async function* checkedRecords(
  records: AsyncIterable<ContainerRecord>,
  onHeader: (header: ContainerHeader) => void,
): AsyncGenerator<ContainerRecord> {
  for await (const record of records) {
    if (record.kind === 'header') onHeader(record.header);
    yield record;
  }
}

/** Reads every tenant table back as COPY text, as a backup does, counting and digesting its rows. */
async function readBack(client: pg.Client, tenantId: string): Promise<FoundTables> {
  await pinOutputSettings(client);
  const found: FoundTables = {};
  for (const table of await tenantTables(client)) {
    const columns = await tableColumns(client, table);
    const digest = new RowDigest();
    const rows = copyOut(client, `COPY (${tenantRowsQuery(table, columns, tenantId)}) TO STDOUT`);
    for await (const chunk of rows as AsyncIterable<Buffer>) digest.update(chunk);
    found[table] = { rows: rows.rowCount, digest: digest.digest() };
  }
  return found;
}

/** Table by table: the manifest's count (and digest, when recorded) against what the scratch database holds. */
function compare(
  backup: BackupRecord,
  digests: Record<string, string> | null,
  found: FoundTables,
): Record<string, DrillTable> {
  const counts = backup.rowCounts ?? {};
  const names = [...new Set([...Object.keys(counts), ...Object.keys(found)])].sort();
  const tables: Record<string, DrillTable> = {};
  for (const name of names) {
    const expected = counts[name] ?? null;
    const got = found[name];
    const table: DrillTable = {
      rows_expected: expected,
      rows_found: got?.rows ?? null,
      ok: expected !== null && got !== undefined && expected === got.rows,
    };
    if (digests) {
      table.digest_expected = digests[name] ?? null;
      table.digest_found = got?.digest ?? null;
      table.ok &&= table.digest_expected === table.digest_found;
    }
    tables[name] = table;
  }
  return tables;
}

async function scratchGone(deps: RestoreDeps, serverId: string, name: string): Promise<boolean> {
  try {
    const url = await deps.catalog.serverAdminUrl(serverId);
    return !(await withAdminClient(url, (client) => databaseExists(client, name)));
  } catch {
    return false;
  }
}
