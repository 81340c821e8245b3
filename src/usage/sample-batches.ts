import type { Knex } from 'knex';

/** A live tenant and where its rows are, as the sampler measures it. */
export interface PlacedForSample {
  tenantId: string;
  databaseId: string;
  serverId: string;
  databaseName: string;
}

/**
 * Makes sure the hour has its row in usage_sample_runs (with `restart`, sets it back to its start, so the
 * hour is sampled again), then takes the hour's next `size` live tenants by id, moving the hour's progress
 * past them in the same short transaction: a row another process holds is skipped (that process is taking
 * a batch), so no two ticks take the same tenants. Answers no tenants once the hour is done.
 */
export async function claimSampleBatch(
  knex: Knex,
  period: Date,
  size: number,
  restart = false,
): Promise<{ tenants: PlacedForSample[]; finished: boolean }> {
  await knex.raw(
    `INSERT INTO usage_sample_runs (period_start) VALUES (?)
     ON CONFLICT (period_start) DO ${restart ? "UPDATE SET after_tenant = '', finished_at = NULL" : 'NOTHING'}`,
    [period],
  );
  return knex.transaction(async (trx) => {
    const { rows } = await trx.raw<{ rows: Array<{ after_tenant: string }> }>(
      `SELECT after_tenant FROM usage_sample_runs
        WHERE period_start = ? AND finished_at IS NULL FOR UPDATE SKIP LOCKED`,
      [period],
    );
    const run = rows[0];
    if (!run) return { tenants: [], finished: false };
    const tenants: PlacedForSample[] = await trx('tenants as t')
      .join('databases as d', 'd.id', 't.database_id')
      .whereIn('t.status', ['active', 'suspended'])
      .where('t.id', '>', run.after_tenant)
      .orderBy('t.id')
      .limit(size)
      .select(
        't.id as tenantId',
        'd.id as databaseId',
        'd.server_id as serverId',
        'd.database_name as databaseName',
      );
    const finished = tenants.length < size;
    await trx('usage_sample_runs')
      .where({ period_start: period })
      .update({
        after_tenant: tenants.at(-1)?.tenantId ?? run.after_tenant,
        ...(finished ? { finished_at: trx.fn.now() } : {}),
      });
    return { tenants, finished };
  });
}
