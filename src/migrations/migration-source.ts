import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Knex } from 'knex';
import type pg from 'pg';
import { InvalidInputError } from '../errors/index.js';

/** What a migration's up and down steps receive: the connection, raw or through knex. */
export interface MigrationHandle {
  client: pg.Client;
  knex: Knex;
}

/** One migration, whatever file it came from. */
export interface Migration {
  name: string;
  /**
   * False for statements PostgreSQL refuses inside a transaction (CREATE INDEX CONCURRENTLY): they run on
   * their own and are recorded after they succeed. Declared with a first line `-- tenantplane:no-transaction`
   * in SQL (one statement per such file) or `export const transaction = false` in TypeScript.
   */
  transactional: boolean;
  up(handle: MigrationHandle): Promise<void>;
  down: ((handle: MigrationHandle) => Promise<void>) | undefined;
  /** The up step's SQL text, for SQL migrations: lets the runner send it with its ledger row in one go. */
  upSql?: string;
}

/** The shape a `NNNN_name.ts` migration module exports. */
export interface MigrationModule {
  up(knex: Knex): Promise<unknown>;
  down?(knex: Knex): Promise<unknown>;
  transaction?: boolean;
}

const SQL_UP = /^(\d{4}_[a-z0-9_]+)\.sql$/;
const SQL_DOWN = /^(\d{4}_[a-z0-9_]+)\.down\.sql$/;
const TS_FILE = /^(\d{4}_[a-z0-9_]+)\.ts$/;
const NO_TRANSACTION = /^\s*--\s*tenantplane:no-transaction\b/;

function sqlStep(sql: string): (handle: MigrationHandle) => Promise<void> {
  return async ({ client }) => {
    await client.query(sql);
  };
}

async function loadTypeScript(file: string): Promise<MigrationModule> {
  // tsx compiles the migration on import, so .ts migrations work from the built package too.
  const { tsImport } = await import('tsx/esm/api');
  const module = (await tsImport(pathToFileURL(file).href, import.meta.url)) as Partial<MigrationModule> & {
    default?: Partial<MigrationModule>;
  };
  const resolved = typeof module.up === 'function' ? module : module.default;
  if (!resolved || typeof resolved.up !== 'function') {
    throw new InvalidInputError(
      `${path.basename(file)} must export an async up(knex) function`,
      'invalid_migration',
    );
  }
  return resolved as MigrationModule;
}

/**
 * Reads a folder of migrations: `NNNN_name.sql` with optional `NNNN_name.down.sql`, or `NNNN_name.ts`.
 * A file that looks almost right, a down without an up, or two files for one name are errors, never
 * silently skipped.
 */
export async function loadMigrations(directory: string): Promise<Migration[]> {
  const entries = (await readdir(directory)).sort();
  const downs = new Set<string>();
  const byName = new Map<string, Migration>();
  const add = (migration: Migration) => {
    if (byName.has(migration.name)) {
      throw new InvalidInputError(
        `two files define migration ${migration.name} in ${directory}`,
        'invalid_migration',
      );
    }
    byName.set(migration.name, migration);
  };
  for (const entry of entries) {
    const file = path.join(directory, entry);
    const down = SQL_DOWN.exec(entry);
    const sql = SQL_UP.exec(entry);
    const ts = TS_FILE.exec(entry);
    if (down) {
      downs.add(down[1]!);
    } else if (sql) {
      const text = await readFile(file, 'utf8');
      add({
        name: sql[1]!,
        transactional: !NO_TRANSACTION.test(text),
        up: sqlStep(text),
        down: undefined,
        upSql: text,
      });
    } else if (ts) {
      const module = await loadTypeScript(file);
      add({
        name: ts[1]!,
        transactional: module.transaction !== false,
        up: async ({ knex }) => {
          await module.up(knex);
        },
        down: module.down
          ? async ({ knex }) => {
              await module.down!(knex);
            }
          : undefined,
      });
    } else if (/\.(sql|ts)$/.test(entry) && !entry.endsWith('.d.ts')) {
      throw new InvalidInputError(
        `migration file ${entry} in ${directory} is not named NNNN_name.sql or NNNN_name.ts`,
      );
    }
  }
  for (const name of downs) {
    const migration = byName.get(name);
    if (!migration) throw new InvalidInputError(`${name}.down.sql in ${directory} has no ${name}.sql`);
    migration.down = sqlStep(await readFile(path.join(directory, `${name}.down.sql`), 'utf8'));
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}
