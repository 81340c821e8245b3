import pg from 'pg';
import { SQLSTATE } from '../../src/errors/index.js';

/**
 * Each live `serve` instance's share of the server's router budget (0..1) from the catalog's instances
 * table (`controlUrl`: a superuser URL of the control database), largest first; undefined when the catalog
 * has no such table (a tenantplane from before it).
 */
export async function serveShares(controlUrl: string): Promise<number[] | undefined> {
  const client = new pg.Client({ connectionString: controlUrl });
  client.on('error', () => {});
  await client.connect();
  try {
    const { rows } = await client.query<{ share: number }>(
      "SELECT router_share_ppm / 1e6::float8 AS share FROM instances WHERE kind = 'serve' ORDER BY 1 DESC",
    );
    return rows.map((row) => Number(row.share));
  } catch (error) {
    if ((error as { code?: string }).code === SQLSTATE.undefinedTable) return undefined; // undefined_table
    throw error;
  } finally {
    await client.end().catch(() => {});
  }
}
