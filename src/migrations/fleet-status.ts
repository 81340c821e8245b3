import type { Catalog } from '../catalog/catalog.js';
import type { Placement } from '../catalog/records.js';
import { rootMessage } from '../errors/index.js';
import { TENANT_LEDGER } from '../provisioning/tenant-database.js';
import { readAppliedMigrations } from './database-migrator.js';
import type { MigrationLedger } from './migration-ledger.js';
import type { Migration } from './migration-source.js';

export interface DatabaseMigrationStatus {
  databaseId: string;
  kind: Placement;
  serverId: string;
  databaseName: string;
  /** False when the database could not be read; `error` says why. */
  reachable: boolean;
  error: string | undefined;
  applied: string[];
  /** Files not applied yet, after the latest applied one: the normal state of a database behind. */
  pending: string[];
  /** Applied migrations with no file: applied by another version, or renamed. */
  unknown: string[];
  /** Files not applied although a later one is: a hole the runner would fill out of order. */
  missing: string[];
  /** Unknown or missing migrations: the database's schema is not one the files describe. */
  drift: boolean;
  lastRun: { runId: string; status: string; error: string | null; finishedAt: Date | null } | undefined;
}

/** Compares what a database recorded as applied with the migration files. */
export function compareWithFiles(applied: string[], files: string[]) {
  const appliedSet = new Set(applied);
  const fileSet = new Set(files);
  const latest = [...applied]
    .filter((name) => fileSet.has(name))
    .sort()
    .at(-1);
  const notApplied = files.filter((name) => !appliedSet.has(name));
  const missing = latest === undefined ? [] : notApplied.filter((name) => name < latest);
  const pending = notApplied.filter((name) => !missing.includes(name));
  const unknown = applied.filter((name) => !fileSet.has(name));
  return { pending, missing, unknown, drift: missing.length > 0 || unknown.length > 0 };
}

/** Every database's migration state, read from the database itself, with its latest ledger row. */
export async function fleetStatus(
  catalog: Catalog,
  ledger: MigrationLedger,
  migrations: Migration[],
  concurrency = 8,
): Promise<DatabaseMigrationStatus[]> {
  const databases = (await catalog.listDatabases()).filter((database) => database.status === 'ready');
  const latest = await ledger.latestByDatabase();
  const files = migrations.map((migration) => migration.name);
  const statuses: DatabaseMigrationStatus[] = [];
  const queue = [...databases];
  const worker = async () => {
    for (let database = queue.shift(); database; database = queue.shift()) {
      const last = latest.get(database.id);
      const base = {
        databaseId: database.id,
        kind: database.kind,
        serverId: database.serverId,
        databaseName: database.databaseName,
        lastRun: last
          ? { runId: last.runId, status: last.status, error: last.error, finishedAt: last.finishedAt }
          : undefined,
      };
      try {
        const connection = await catalog.serverAdminConfig(database.serverId, database.databaseName);
        const applied = await readAppliedMigrations(connection, TENANT_LEDGER);
        statuses.push({
          ...base,
          reachable: true,
          error: undefined,
          applied,
          ...compareWithFiles(applied, files),
        });
      } catch (error) {
        statuses.push({
          ...base,
          reachable: false,
          error: rootMessage(error),
          applied: [],
          pending: [],
          unknown: [],
          missing: [],
          drift: false,
        });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return statuses.sort((a, b) => a.databaseId.localeCompare(b.databaseId));
}
