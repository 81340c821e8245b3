import { setTimeout as sleep } from 'node:timers/promises';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { Umzug, type UmzugStorage } from 'umzug';
import { InvalidInputError, MigrationFailedError, MigrationLockTimeoutError } from '../errors/index.js';
import { quoteIdent } from '../ids.js';
import { LossReportingClient } from '../postgres/connection-loss.js';
import type { Migration, MigrationHandle } from './migration-source.js';

/** Where a database records the migrations applied to it. */
export interface LedgerTable {
  schema: string;
  table: string;
}

export interface MigrateDatabaseOptions {
  connectionString: string;
  /** TLS for a tenant database: a server's settings (see serverClientConfig); default: the URL's, as pg reads them. */
  ssl?: pg.ClientConfig['ssl'];
  migrations: Migration[];
  ledger: LedgerTable;
  /** Default 'up'. */
  direction?: 'up' | 'down';
  /**
   * up: stop after this migration (default: all). down: roll back until this one is the latest ('0': all;
   * default: only the latest).
   */
  to?: string;
  /** Only report what would run. */
  dryRun?: boolean;
  /** How long to wait for another runner's lock on this database, in ms. Default 30000. */
  lockTimeoutMs?: number;
  /** Called before each migration runs. */
  onMigration?: (name: string) => void;
}

export interface MigrateResult {
  /** Migrations applied (up) or rolled back (down), in the order they ran. */
  applied: string[];
  /** What the call would apply or roll back (for a dry run, what it did not do). */
  planned: string[];
}

const LOCK_POLL_MS = 50;

/** The application_name of every session a migration runner opens on a tenant database. */
export const MIGRATOR_APPLICATION_NAME = 'tenantplane-migrate';

/**
 * Takes the database's migration lock by polling pg_try_advisory_lock rather than blocking in
 * pg_advisory_lock: a blocked statement holds a snapshot, and CREATE INDEX CONCURRENTLY in the lock
 * holder's migration would wait for that snapshot while the waiter waits for the lock — a deadlock.
 */
async function acquireLock(
  client: pg.Client,
  key: string,
  ledger: string,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // The ledger's existence comes along in the same round trip.
    const { rows } = await client.query<{ locked: boolean; ledger: string | null }>(
      'SELECT pg_try_advisory_lock(hashtext($1)) AS locked, to_regclass($2)::text AS ledger',
      [key, ledger],
    );
    if (rows[0]?.locked) return rows[0].ledger !== null;
    if (Date.now() >= deadline) throw new MigrationLockTimeoutError(timeoutMs);
    await sleep(LOCK_POLL_MS + Math.random() * LOCK_POLL_MS);
  }
}

/**
 * The 'error' listener of a runner's connection. A session the server drops (a restart, pg_terminate_backend)
 * fails the statement in flight, or the next one, so the migration fails and its connection is ended;
 * without a listener the 'error' event would end the process, and with it every other runner in it.
 */
function ignoreSessionLoss(): void {}

/** A knex whose every query runs on the given client (the migration's own connection and transaction). */
function knexOnClient(client: pg.Client): Knex {
  const knex = knexFactory({ client: 'pg' });
  knex.client.acquireConnection = async () => client;
  knex.client.releaseConnection = async () => {};
  return knex;
}

async function createLedger(client: pg.Client, table: string, schema: string): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${table} (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
  );
}

function ledgerName(ledger: LedgerTable): string {
  return `${quoteIdent(ledger.schema)}.${quoteIdent(ledger.table)}`;
}

/** The migrations recorded as applied in a database, without taking its lock. */
export async function readAppliedMigrations(
  connection: pg.ClientConfig,
  ledger: LedgerTable,
): Promise<string[]> {
  const client = new LossReportingClient({ ...connection, connectionTimeoutMillis: 5000 });
  client.on('error', ignoreSessionLoss);
  await client.connect();
  try {
    const exists = await client.query('SELECT to_regclass($1) AS name', [`${ledger.schema}.${ledger.table}`]);
    if (!exists.rows[0]?.name) return [];
    const result = await client.query<{ name: string }>(
      `SELECT name FROM ${ledgerName(ledger)} ORDER BY name`,
    );
    return result.rows.map((row) => row.name);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Brings one database up (or down) under its migration lock, with umzug driving the order. Each
 * transactional migration commits together with its ledger row, so a runner killed halfway never leaves a
 * migration recorded without its DDL, nor DDL without its record; a racing runner finds the work done.
 */
export async function migrateDatabase(options: MigrateDatabaseOptions): Promise<MigrateResult> {
  const direction = options.direction ?? 'up';
  const names = options.migrations.map((migration) => migration.name);
  if (options.to !== undefined && options.to !== '0' && !names.includes(options.to)) {
    throw new InvalidInputError(`no migration named ${options.to}`, 'unknown_migration');
  }
  const table = ledgerName(options.ledger);
  const client = new LossReportingClient({
    connectionString: options.connectionString,
    ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
    connectionTimeoutMillis: 10000,
    // Lets operators (and tests) find a runner's sessions in pg_stat_activity.
    application_name: MIGRATOR_APPLICATION_NAME,
  });
  client.on('error', ignoreSessionLoss);
  await client.connect();
  try {
    const ledgerExists = await acquireLock(
      client,
      `tenantplane:${options.ledger.schema}.${options.ledger.table}`,
      `${options.ledger.schema}.${options.ledger.table}`,
      options.lockTimeoutMs ?? 30000,
    );
    if (!ledgerExists) await createLedger(client, table, options.ledger.schema);
    // Built on first use only: SQL migrations never need it.
    let knex: Knex | undefined;
    const handle: MigrationHandle = {
      client,
      get knex() {
        knex ??= knexOnClient(client);
        return knex;
      },
    };
    const applied: string[] = [];
    let current: string | undefined;
    // What the ledger holds, read once and kept in step as migrations run (umzug asks more than once).
    let executed: string[] | undefined;

    /** `script`, when given, is the whole transactional step as one SQL string: one round trip. */
    const step =
      (migration: Migration, run: () => Promise<void>, record: () => Promise<unknown>, script?: string) =>
      async () => {
        current = migration.name;
        options.onMigration?.(migration.name);
        if (!migration.transactional) {
          await run();
          await record();
        } else if (script !== undefined) {
          await client.query(script).catch(async (error) => {
            await client.query('ROLLBACK').catch(() => {});
            throw error;
          });
        } else {
          await client.query('BEGIN');
          try {
            await run();
            await record();
            await client.query('COMMIT');
          } catch (error) {
            await client.query('ROLLBACK').catch(() => {});
            throw error;
          }
        }
        applied.push(migration.name);
      };

    const storage: UmzugStorage = {
      async executed() {
        if (!executed) {
          const result = await client.query<{ name: string }>(`SELECT name FROM ${table} ORDER BY name`);
          executed = result.rows.map((row) => row.name);
        }
        return executed;
      },
      // The row itself is written inside each migration's own transaction (see step).
      async logMigration({ name }) {
        executed?.push(name);
      },
      async unlogMigration({ name }) {
        executed = executed?.filter((entry) => entry !== name);
      },
    };
    const umzug = new Umzug({
      storage,
      logger: undefined,
      migrations: options.migrations.map((migration) => ({
        name: migration.name,
        up: step(
          migration,
          () => migration.up(handle),
          () => client.query(`INSERT INTO ${table} (name) VALUES ($1)`, [migration.name]),
          // Migration names match ^\d{4}_[a-z0-9_]+$, so the literal is safe.
          migration.upSql === undefined
            ? undefined
            : `BEGIN;\n${migration.upSql}\n;INSERT INTO ${table} (name) VALUES (${pg.escapeLiteral(migration.name)});\nCOMMIT;`,
        ),
        down: step(
          migration,
          async () => {
            if (!migration.down) {
              throw new InvalidInputError(
                `migration ${migration.name} has no down step`,
                'irreversible_migration',
              );
            }
            await migration.down(handle);
          },
          () => client.query(`DELETE FROM ${table} WHERE name = $1`, [migration.name]),
        ),
      })),
    });

    try {
      if (direction === 'up') {
        const pending = (await umzug.pending()).map((migration) => migration.name);
        const planned = options.to ? pending.filter((name) => name <= options.to!) : pending;
        if (!options.dryRun && planned.length > 0) {
          await umzug.up(options.to ? { to: options.to } : {}).catch((error) => {
            throw new MigrationFailedError(current, applied, error);
          });
        }
        return { applied, planned };
      }
      const done = (await umzug.executed()).map((migration) => migration.name);
      const planned = (
        options.to === undefined
          ? done.slice(-1)
          : done.filter((name) => options.to === '0' || name > options.to!)
      ).reverse();
      if (!options.dryRun && planned.length > 0) {
        await umzug.down({ step: planned.length }).catch((error) => {
          throw new MigrationFailedError(current, applied, error);
        });
      }
      return { applied, planned };
    } finally {
      await knex?.destroy();
    }
  } finally {
    // Ending the session releases the advisory lock as well.
    await client.end().catch(() => {});
  }
}
