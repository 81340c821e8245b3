import pg from 'pg';

/** Fills the tenant's tables with INSERT ... SELECT generate_series until the database reaches `mb`. */
export async function fill(
  url: string,
  tenantId: string,
  mb: number,
): Promise<{ rows: number; bytes: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const batch = 40_000;
    let rows = 0;
    for (let start = 0; ; start += batch) {
      const size = Number((await client.query('SELECT pg_database_size(current_database()) AS n')).rows[0].n);
      if (size >= mb * 1024 * 1024) {
        await client.query('VACUUM ANALYZE');
        return { rows, bytes: size };
      }
      await client.query('BEGIN');
      await client.query("SELECT set_config('tenantplane.tenant_id', $1, true)", [tenantId]);
      const range = [tenantId, start + 1, start + batch];
      await client.query(
        `INSERT INTO audit_events (tenant_id, actor, action, status, details)
         SELECT $1, 'user-' || (i % 1000), 'deploy.' || (i % 17), 'recorded',
                jsonb_build_object('i', i, 'note', md5(i::text), 'tags', jsonb_build_array('a', 'b'))
           FROM generate_series($2::int, $3::int) i`,
        range,
      );
      await client.query(
        `INSERT INTO deployments (tenant_id, project_name, status, url)
         SELECT $1, 'project-' || (i % 5000), 'ready', 'https://deploy.example.com/' || md5(i::text)
           FROM generate_series($2::int, $3::int) i`,
        range,
      );
      await client.query(
        `INSERT INTO workflows (tenant_id, name, status, config)
         SELECT $1, 'wf-' || i, 'idle', jsonb_build_object('steps', i % 9, 'image', 'node:20')
           FROM generate_series($2::int, $3::int / 4) i`,
        [tenantId, Math.floor(start / 4) + 1, start + batch],
      );
      await client.query('COMMIT');
      rows += batch * 2 + batch / 4;
    }
  } finally {
    await client.end();
  }
}
