/**
 * The baseline the fleet runner is measured against: the least a script can do to apply one SQL migration
 * to many databases. One pg connection per database, BEGIN; the SQL; COMMIT, a fixed number of databases
 * at once. No ledger (neither the control database's nor the tenant database's), no advisory lock, no
 * umzug, no catalog lookups: the admin URLs are given.
 */

import pg from 'pg';
import { forEachLimit } from './concurrency.js';

export interface BaselineOptions {
  /** Admin connection URL of every database. */
  urls: string[];
  /** The migration's SQL, as in its .sql file. */
  sql: string;
  concurrency: number;
}

export interface BaselineResult {
  durationMs: number;
  /** Milliseconds per database, connect to disconnect, in the order of `urls`. */
  perDatabaseMs: number[];
}

export async function migrateOne(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10000 });
  await client.connect();
  try {
    await client.query('BEGIN');
    try {
      await client.query(sql);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  } finally {
    await client.end().catch(() => {});
  }
}

export async function runBaseline(options: BaselineOptions): Promise<BaselineResult> {
  const perDatabaseMs = new Array<number>(options.urls.length).fill(0);
  const started = performance.now();
  await forEachLimit(options.urls, options.concurrency, async (url, index) => {
    const begun = performance.now();
    await migrateOne(url, options.sql);
    perDatabaseMs[index] = performance.now() - begun;
  });
  return { durationMs: performance.now() - started, perDatabaseMs };
}
