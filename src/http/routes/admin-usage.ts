import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Router } from 'express';
import type { Knex } from 'knex';
import type { Catalog } from '../../catalog/catalog.js';
import { parseUsageRange } from '../../usage/usage-range.js';
import { tenantUsageReport } from '../../usage/usage-report.js';
import { usageCsvLines } from '../../usage/usage-store.js';

/**
 * `GET /admin/v1/tenants/:id/usage?from=&to=&granularity=hour|day`: a tenant's metered usage per period;
 * `GET /admin/v1/usage.csv?from=&to=&granularity=`: every tenant's, as CSV streamed batch by batch.
 */
export function adminUsageApi(tp: { knex: Knex; catalog: Pick<Catalog, 'getTenant'> }): Router {
  const router = Router();

  router.get('/tenants/:id/usage', async (req, res) => {
    res.json(await tenantUsageReport(tp, req.params.id, parseUsageRange(req.query)));
  });

  router.get('/usage.csv', async (req, res) => {
    const range = parseUsageRange(req.query);
    const lines = usageCsvLines(tp.knex, range);
    // The header comes once the first batch was read, so a catalog outage still answers 503 here.
    const header = await lines.next();
    const name = `usage-${range.from.toISOString()}-${range.to.toISOString()}.csv`.replaceAll(':', '');
    res.type('text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="${name}"`);
    async function* body() {
      if (!header.done) yield header.value;
      yield* lines;
    }
    // Backpressure: the next batch is read once the client has taken the last one.
    await pipeline(Readable.from(body()), res);
  });

  return router;
}
