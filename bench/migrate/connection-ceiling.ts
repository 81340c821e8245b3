import pg from 'pg';

export interface ConnectionCeiling {
  connections: number;
  msPerConnectionAtOne: number;
  msPerConnectionAtConcurrency: number;
  concurrency: number;
  /** How much faster bare connections get from concurrency: the most any per-database runner can gain. */
  speedup: number;
}

/** Opens, uses once (`SELECT 1`) and closes `count` connections, `concurrency` at a time; ms per connection. */
async function churn(urls: string[], count: number, concurrency: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const url = urls[next % urls.length]!;
        next += 1;
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.query('SELECT 1');
        await client.end();
      }
    }),
  );
  return (performance.now() - started) / count;
}

/**
 * Every database of a fleet run needs a connection of its own, so how well connection setup and teardown
 * scale with concurrency on this machine bounds the runner's speed-up, whatever the runner does. Measured
 * on the fleet's own databases, with nothing else in the connections.
 */
export async function measureConnectionCeiling(
  urls: string[],
  concurrency: number,
  connections = 200,
): Promise<ConnectionCeiling> {
  await churn(urls, 20, 1); // warm-up
  const atOne = await churn(urls, connections, 1);
  const atConcurrency = await churn(urls, connections, concurrency);
  return {
    connections,
    msPerConnectionAtOne: atOne,
    msPerConnectionAtConcurrency: atConcurrency,
    concurrency,
    speedup: atOne / atConcurrency,
  };
}
