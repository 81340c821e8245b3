import { LIST_PATH } from '../router/load.js';
import type { Service } from '../router/services.js';
import type { FleetTenant } from './setup.js';

/** A service answered wrongly (another tenant's rows, a different page than another service): no run. */
export class WrongAnswer extends Error {}

interface ListBody {
  data: Array<{ tenant_id: string }>;
  tenant_id: string;
}

async function firstPage(service: Service, tenant: FleetTenant): Promise<{ status: number; text: string }> {
  // A 503 right after start (a pool still opening, a budget share still being handed over) gets retries.
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(`${service.url}${LIST_PATH}`, {
      headers: { authorization: `Bearer ${tenant.token}` },
      signal: AbortSignal.timeout(10000),
    });
    const text = await response.text();
    if (response.status !== 503 || attempt === 5) return { status: response.status, text };
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Every sample tenant's first page from the service: 200, the tenant's own `rows` rows only, and byte for
 * byte what the first service checked answered (`expected`, filled on first sight). Before any timing, so
 * that every service is known to do the same work.
 */
export async function checkPages(
  service: Service,
  tenants: FleetTenant[],
  rows: number,
  expected: Map<string, string>,
): Promise<void> {
  for (const tenant of tenants) {
    const { status, text } = await firstPage(service, tenant);
    if (status !== 200) {
      throw new WrongAnswer(`${service.name} answered ${status} for ${tenant.id}: ${text.slice(0, 300)}`);
    }
    const body = JSON.parse(text) as ListBody;
    const problems: string[] = [];
    if (body.tenant_id !== tenant.id) problems.push(`tenant_id ${body.tenant_id}`);
    const wanted = Math.min(rows, 20);
    if (body.data.length !== wanted) problems.push(`${body.data.length} rows, wanted ${wanted}`);
    if (body.data.some((row) => row.tenant_id !== tenant.id)) problems.push('rows of another tenant');
    const earlier = expected.get(tenant.id);
    if (earlier === undefined) expected.set(tenant.id, text);
    else if (earlier !== text) problems.push('a different page than the service checked first');
    if (problems.length > 0) {
      throw new WrongAnswer(`${service.name} gave a wrong page for ${tenant.id}: ${problems.join(', ')}`);
    }
  }
}
