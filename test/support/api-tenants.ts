import { expect } from 'chai';
import { createTestPlane, TEST_ACTOR, type TestPlane } from './test-plane.js';

export interface Row {
  id: string;
  tenant_id: string;
  project_name: string;
  status: string;
}

/** A plane serving HTTP with three tenants, two deployments each, and a caller of its API. */
export interface ApiTenants {
  plane: TestPlane;
  base: string;
  /** Tokens of alpha, bravo, corp, ghost (a tenant that does not exist) and admin; more may be added. */
  tokens: Record<string, string>;
  /** The deployments `<tenant>-web` and `<tenant>-api` of alpha, bravo and corp, as created. */
  rowsOf: Record<string, Row[]>;
  /** A request with the token of `tenant`; a string body is sent as it is, anything else as JSON. */
  call(
    tenant: string,
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
    // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field by the tests' assertions
  ): Promise<{ status: number; body: any; headers: Headers }>;
}

/**
 * alpha (starter) and bravo (pro) share shard-one, corp (enterprise) has its own database; the plane's
 * TENANT_DOMAIN is example.test.
 */
export async function openApiTenants(): Promise<ApiTenants> {
  const plane = await createTestPlane({}, { TENANT_DOMAIN: 'example.test' });
  const tokens: Record<string, string> = {};
  const rowsOf: Record<string, Row[]> = {};
  let base = '';

  const call: ApiTenants['call'] = async (tenant, method, path, body, headers = {}) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${tokens[tenant]}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  };

  await plane.addServer();
  await plane.tp.shards.add({ id: 'shard-one', serverId: 'pg-main' }, TEST_ACTOR);
  for (const [id, tier] of [
    ['alpha', 'starter'],
    ['bravo', 'pro'],
    ['corp', 'enterprise'],
  ] as const) {
    await plane.tp.tenants.create({ id, tier }, TEST_ACTOR);
  }
  base = await plane.listen();
  for (const tenant of ['alpha', 'bravo', 'corp', 'ghost']) {
    tokens[tenant] = await plane.mint({ tenantId: tenant });
  }
  tokens.admin = await plane.mint({ admin: true });
  for (const tenant of ['alpha', 'bravo', 'corp']) {
    rowsOf[tenant] = [];
    for (const project of ['web', 'api']) {
      const created = await call(tenant, 'POST', '/api/v1/deployments', {
        project_name: `${tenant}-${project}`,
        status: 'ready',
      });
      expect(created.status).to.equal(201);
      rowsOf[tenant]!.push(created.body);
    }
  }
  return { plane, base, tokens, rowsOf, call };
}
