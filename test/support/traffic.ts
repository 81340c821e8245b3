import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { send } from './request-load.js';
import { adminQuery } from './test-plane.js';

/** A tenant row as the traffic expects the database to hold it. */
export interface ExpectedRow {
  table: 'deployments' | 'workflows';
  id: string;
  name: string;
  status: string;
}

/**
 * Application traffic for one tenant through the HTTP API: workers that create, update and delete rows
 * without pause. Each worker only touches rows it created, one request at a time, so the rows the API
 * acknowledged (2xx) say exactly what the database must hold.
 */
export class Traffic {
  readonly rows = new Map<string, ExpectedRow>();
  readonly statuses = new Map<number, number>();
  readonly refusedWithoutRetryAfter: number[] = [];
  #stopped = false;
  #workers: Promise<void>[] = [];

  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  seed(rows: ExpectedRow[]): void {
    for (const row of rows) this.rows.set(row.id, row);
  }

  start(workers = 4): void {
    const seeded = [...this.rows.values()];
    for (let worker = 0; worker < workers; worker++) {
      const own = seeded.filter((_, index) => index % workers === worker).map((row) => row.id);
      this.#workers.push(this.#work(worker, own));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#workers);
  }

  count(status: number): number {
    return this.statuses.get(status) ?? 0;
  }

  async #call(method: string, path: string, body?: unknown) {
    const answer = await send(this.base, method, path, this.token, body);
    this.statuses.set(answer.status, this.count(answer.status) + 1);
    if (answer.status === 503 && !answer.headers?.get('retry-after')) {
      this.refusedWithoutRetryAfter.push(answer.status);
    }
    return answer;
  }

  async #work(worker: number, own: string[]): Promise<void> {
    let step = 0;
    while (!this.#stopped) {
      step += 1;
      const pick = own.length === 0 ? 0 : step % 10;
      if (pick < 5) {
        const table = step % 2 === 0 ? 'deployments' : 'workflows';
        const name = `w${worker}-${step}`;
        const created = await this.#call(
          'POST',
          `/api/v1/${table}`,
          table === 'deployments' ? { project_name: name, status: 'queued' } : { name, status: 'queued' },
        );
        if (created.status === 201) {
          this.rows.set(created.body.id, { table, id: created.body.id, name, status: 'queued' });
          own.push(created.body.id);
        }
      } else if (pick < 8) {
        const row = this.rows.get(own[step % own.length]!)!;
        const status = `s${step}`;
        const updated = await this.#call('PATCH', `/api/v1/${row.table}/${row.id}`, { status });
        if (updated.status === 200) row.status = status;
      } else {
        const index = step % own.length;
        const row = this.rows.get(own[index]!)!;
        const removed = await this.#call('DELETE', `/api/v1/${row.table}/${row.id}`);
        if (removed.status === 204) {
          this.rows.delete(row.id);
          own.splice(index, 1);
        }
      }
      // A breath between requests; a refused one comes back soon too (not after Retry-After: the test is short).
      await sleep(10);
    }
  }
}

/** The rows the traffic left acknowledged, in the order `tenantRowsIn` reads them. */
export function expectedRows(...traffic: Traffic[]): ExpectedRow[] {
  return traffic
    .flatMap((one) => [...one.rows.values()])
    .map((row) => ({ ...row }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** One statement as a superuser on a database of some server (adminQuery: the test PostgreSQL's). */
export type SuperuserQuery = typeof adminQuery;

/** The tenant's rows as a database holds them (read as the superuser, which row-level security spares). */
export async function tenantRowsIn(
  database: string,
  tenantId: string,
  query: SuperuserQuery = adminQuery,
): Promise<ExpectedRow[]> {
  const result = await query<ExpectedRow>(
    database,
    `SELECT 'deployments' AS table, id, project_name AS name, status FROM deployments WHERE tenant_id = $1
     UNION ALL SELECT 'workflows', id, name, status FROM workflows WHERE tenant_id = $1 ORDER BY id`,
    [tenantId],
  );
  return result.rows;
}

/** Checks the traffic that ran through a move: only 2xx and 503 with Retry-After, and some of each. */
export function expectCleanTraffic(traffic: Traffic): void {
  const unexpected = [...traffic.statuses.keys()].filter((status) => ![200, 201, 204, 503].includes(status));
  expect(unexpected, 'statuses other than 2xx and 503').to.deep.equal([]);
  expect(traffic.refusedWithoutRetryAfter).to.deep.equal([]);
  expect(traffic.count(201), 'rows created during the move').to.be.greaterThan(10);
}
