import pg from 'pg';
import { locateTenant } from '../../src/backup/tenant-location.js';
import type { Tenantplane } from '../../src/tenantplane.js';

const TABLES = ['audit_events', 'deployments', 'users', 'workflows'] as const;

async function asTenant<T>(tp: Tenantplane, tenantId: string, work: (client: pg.Client) => Promise<T>) {
  const location = await locateTenant(tp.catalog, tenantId);
  const client = new pg.Client({ connectionString: location.adminUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT set_config('tenantplane.tenant_id', $1, true)", [tenantId]);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } finally {
    await client.end();
  }
}

/**
 * Writes `count` rows per tenant table, with values that COPY and JSON must escape (tabs, newlines,
 * backslashes, quotes, non-ASCII, NULLs, JSON documents).
 */
export async function seedTenantRows(tp: Tenantplane, tenantId: string, count: number, tag = 'v1') {
  await asTenant(tp, tenantId, async (client) => {
    await client.query(
      `INSERT INTO users (tenant_id, email, name) SELECT $1, $2 || i || '@example.com', E'Ana\\t"Bé"\\\\' || i
         FROM generate_series(1, $3) i`,
      [tenantId, `${tag}-`, count],
    );
    await client.query(
      `INSERT INTO deployments (tenant_id, project_name, status, url)
       SELECT $1, $2 || E'-proj\\n' || i, 'ready', CASE WHEN i % 2 = 0 THEN NULL ELSE 'https://x.test/' || i END
         FROM generate_series(1, $3) i`,
      [tenantId, tag, count],
    );
    await client.query(
      `INSERT INTO workflows (tenant_id, name, status, config)
       SELECT $1, $2 || '-wf' || i, 'idle', jsonb_build_object('n', i, 'text', E'line\\nbreak \\\\ ✓')
         FROM generate_series(1, $3) i`,
      [tenantId, tag, count],
    );
    await client.query(
      `INSERT INTO audit_events (tenant_id, actor, action) SELECT $1, 'seed', $2 || i FROM generate_series(1, $3) i`,
      [tenantId, tag, count],
    );
  });
}

/**
 * Every row of the tenant in every table as JSON text without its tenant_id (the query selects only the
 * tenant's rows), in a stable order: for row-for-row comparisons, also across a restore into another id.
 */
export async function tenantRows(tp: Tenantplane, tenantId: string): Promise<Record<string, string[]>> {
  return asTenant(tp, tenantId, async (client) => {
    const rows: Record<string, string[]> = {};
    for (const table of TABLES) {
      const result = await client.query<{ row: string }>(
        `SELECT (to_jsonb(t) - 'tenant_id')::text AS row FROM ${table} t WHERE tenant_id = $1 ORDER BY id`,
        [tenantId],
      );
      rows[table] = result.rows.map((row) => row.row);
    }
    return rows;
  });
}

/** Runs one statement as the tenant on its database. */
export async function tenantQuery(tp: Tenantplane, tenantId: string, sql: string, values: unknown[] = []) {
  return asTenant(tp, tenantId, (client) => client.query(sql, values));
}
