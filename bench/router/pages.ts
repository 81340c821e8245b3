import { BenchFailure } from '../lib/cleanup.js';
import type { BenchTenant } from './fixtures.js';
import { LIST_PATH } from './load.js';
import type { Service } from './services.js';

interface ListBody {
  data: Array<{ tenant_id: string }>;
  next_cursor: string | null;
  tenant_id: string;
}

async function getList(service: Service, token: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${service.url}${LIST_PATH}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10000),
  });
  return { status: response.status, text: await response.text() };
}

/** One page for the tenant: 200, the tenant's rows only, `expectedRows` of them; returns the body text. */
export async function checkList(
  service: Service,
  tenant: BenchTenant,
  expectedRows: number,
): Promise<string> {
  const { status, text } = await getList(service, tenant.token);
  if (status !== 200) throw new BenchFailure(`${service.name} answered ${status} for ${tenant.id}: ${text}`);
  const body = JSON.parse(text) as ListBody;
  const problems: string[] = [];
  if (body.tenant_id !== tenant.id) problems.push(`tenant_id ${body.tenant_id}`);
  if (body.data.length !== expectedRows) problems.push(`${body.data.length} rows, wanted ${expectedRows}`);
  if (body.data.some((row) => row.tenant_id !== tenant.id)) problems.push('rows of another tenant');
  if (expectedRows === 20 && typeof body.next_cursor !== 'string') problems.push('no next_cursor');
  if (problems.length > 0) {
    throw new BenchFailure(`${service.name} gave a wrong page for ${tenant.id}: ${problems.join(', ')}`);
  }
  return text;
}
