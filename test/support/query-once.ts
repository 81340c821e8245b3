import pg from 'pg';

/** Runs one statement on a connection of its own, closed whatever happens. */
export async function queryOnce<R extends pg.QueryResultRow = Record<string, unknown>>(
  config: pg.ClientConfig,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  const client = new pg.Client(config);
  // A session the server ends fails the statement; its 'error' event must not end the test process.
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.query<R>(text, values);
  } finally {
    await client.end().catch(() => {});
  }
}
