import type pg from 'pg';
import type { Catalog } from '../catalog/catalog.js';
import type { DatabaseRecord } from '../catalog/records.js';
import { UnavailableError } from '../errors/index.js';
import { LossReportingClient } from '../postgres/connection-loss.js';
import { beginAsTenant } from '../tenant-session/tenant-transaction.js';
import { MOVER_APPLICATION_NAME } from './move-lock.js';

/**
 * An admin connection to a tenant database for a move. Both sides of a move get the same display settings,
 * so that a row renders, and hashes, the same on either.
 */
export async function connectForMove(catalog: Catalog, database: DatabaseRecord): Promise<pg.Client> {
  const client = new LossReportingClient({
    ...(await catalog.serverAdminConfig(database.serverId, database.databaseName)),
    connectionTimeoutMillis: 5000,
    application_name: MOVER_APPLICATION_NAME,
  });
  // A terminated session surfaces as the failed query; without a listener it would crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw new UnavailableError(
      `cannot connect to ${database.id} on server ${database.serverId}: ${(error as Error).message}`,
      'server_unreachable',
      { cause: error },
    );
  }
  await client.query(
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1",
  );
  return client;
}

/** Runs `work` in a snapshot on the source and a transaction on the target, committing the target's. */
export async function inMoveTransactions<T>(
  source: pg.Client,
  target: pg.Client,
  tenantId: string,
  work: () => Promise<T>,
): Promise<T> {
  await beginAsTenant(source, tenantId, true);
  try {
    await beginAsTenant(target, tenantId, false);
    try {
      const value = await work();
      await target.query('COMMIT');
      return value;
    } catch (error) {
      await target.query('ROLLBACK').catch(() => {});
      throw error;
    }
  } finally {
    await source.query('ROLLBACK').catch(() => {});
  }
}
