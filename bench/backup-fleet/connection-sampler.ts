/**
 * Peak connections per server while a round runs: pg_stat_activity sampled every few ms, counted by user
 * (each server of the fleet is registered through an admin role of its own, and every connection
 * tenantplane makes to a server logs in as that role). The sampler's own session is the superuser's.
 */
import pg from 'pg';
import { adminUrlFor } from '../../test/support/test-plane.js';

export interface ConnectionPeaks {
  /** Role → the most connections seen at once. */
  peaks: Record<string, number>;
  samples: number;
}

export interface ConnectionSampler {
  stop(): Promise<ConnectionPeaks>;
}

export async function sampleConnections(roles: string[], everyMs: number): Promise<ConnectionSampler> {
  const client = new pg.Client({ connectionString: adminUrlFor('postgres') });
  await client.connect();
  const peaks: Record<string, number> = Object.fromEntries(roles.map((role) => [role, 0]));
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await client.query<{ usename: string; n: number }>(
        `SELECT usename, count(*)::int AS n FROM pg_stat_activity WHERE usename = ANY($1) GROUP BY usename`,
        [roles],
      );
      for (const row of rows) peaks[row.usename] = Math.max(peaks[row.usename] ?? 0, row.n);
      samples += 1;
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await client.end();
      return { peaks, samples };
    },
  };
}
