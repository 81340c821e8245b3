import { expect } from 'chai';
import { callJson } from './support/http-client.js';
import { createTestPlane, type TestPlane } from './support/test-plane.js';

const ADMIN = 'tenantplane:admin';
const OPERATOR = 'tenantplane:operator';
const SUPPORT = 'tenantplane:support';
const VIEWER = 'tenantplane:viewer';
const SCOPES = [ADMIN, OPERATOR, SUPPORT, VIEWER] as const;

/** Which scopes may do what, as the contract says; a route names the narrowest it needs. */
const ALLOWED: Record<string, readonly string[]> = {
  [ADMIN]: [ADMIN],
  [OPERATOR]: [ADMIN, OPERATOR],
  [SUPPORT]: [ADMIN, OPERATOR, SUPPORT],
  [VIEWER]: SCOPES,
};

/** The exceptions to "reads need viewer, writes need operator", by `METHOD path` of the document. */
const EXCEPTIONS: Record<string, string> = {
  'DELETE /admin/v1/tenants/{id}': ADMIN,
  // Without `into`: in place, over the tenant's own rows.
  'POST /admin/v1/tenants/{id}/restores': ADMIN,
  'POST /admin/v1/tenants/{id}/impersonations': SUPPORT,
};

function scopeNeeded(method: string, path: string): string {
  return EXCEPTIONS[`${method} ${path}`] ?? (method === 'GET' ? VIEWER : OPERATOR);
}

/**
 * Nothing a request below may do can change anything: every id names nothing, and every body carries a
 * field no route knows, so a request the scope lets through ends in 404 or 400 (which proves it passed).
 */
const NO_SUCH_ID = 'no-such-thing';
const HARMLESS_BODY = { no_such_field: true };

interface Operation {
  method: string;
  path: string;
}

describe('Admin scopes per route', function () {
  // Every admin route with every scope: a few hundred requests.
  this.timeout(60000);
  let plane: TestPlane;
  let base: string;
  let operations: Operation[];
  const tokens: Record<string, string> = {};

  before(async () => {
    plane = await createTestPlane();
    base = await plane.listen();
    for (const scope of SCOPES)
      tokens[scope] = await plane.mint({ scopes: [scope], subject: `ops-${scope}` });
    // From the served document, so a route added later is covered without editing this test.
    const document = (await (await fetch(`${base}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    operations = Object.entries(document.paths)
      .filter(([path]) => path.startsWith('/admin/v1/'))
      .flatMap(([path, item]) =>
        ['get', 'post', 'put', 'patch', 'delete']
          .filter((method) => item[method] !== undefined)
          .map((method) => ({ method: method.toUpperCase(), path })),
      );
  });
  after(async () => plane.close());

  const call = (token: string, { method, path }: Operation) =>
    callJson(
      base,
      token,
      method,
      path.replace(/\{[^}]+\}/g, NO_SUCH_ID),
      method === 'GET' || method === 'DELETE' ? undefined : HARMLESS_BODY,
    );

  it('refuses with 403 insufficient_scope exactly where the table says, naming the scope needed', async () => {
    expect(operations.length, 'the document lists the admin routes').to.be.above(20);
    const outcomes: string[] = [];
    const expected: string[] = [];
    for (const operation of operations) {
      const needed = scopeNeeded(operation.method, operation.path);
      for (const scope of SCOPES) {
        const answer = await call(tokens[scope]!, operation);
        const label = `${operation.method} ${operation.path} with ${scope}`;
        const refused = answer.status === 403 && answer.body?.error?.code === 'insufficient_scope';
        outcomes.push(`${label}: ${refused ? 'refused' : 'passed'}`);
        expected.push(`${label}: ${ALLOWED[needed]!.includes(scope) ? 'passed' : 'refused'}`);
        if (refused) {
          expect(answer.body.error.message, label).to.include(`requires ${needed}`);
          expect(answer.headers.get('www-authenticate'), label).to.equal(
            `Bearer realm="tenantplane", error="insufficient_scope", scope="${needed}"`,
          );
        } else {
          // Passed the scope: the route itself answered, and found nothing to act on.
          expect(answer.status, `${label}: ${JSON.stringify(answer.body)}`).to.be.oneOf([200, 204, 400, 404]);
        }
      }
    }
    expect(outcomes).to.deep.equal(expected);
  });

  it('lets an operator restore into a new tenant, but only an admin restore in place', async () => {
    const path = `/admin/v1/tenants/${NO_SUCH_ID}/restores`;
    const intoNew = { backup_id: 'b-1', into: 'fresh-co', ...HARMLESS_BODY };
    const operatorInto = await callJson(base, tokens[OPERATOR], 'POST', path, intoNew);
    expect(operatorInto.status).to.equal(400);
    expect(operatorInto.body.error.code).to.equal('unknown_field');
    const operatorInPlace = await callJson(base, tokens[OPERATOR], 'POST', path, { backup_id: 'b-1' });
    expect(operatorInPlace.status).to.equal(403);
    expect(operatorInPlace.body.error.code).to.equal('insufficient_scope');
    expect(operatorInPlace.body.error.message).to.equal(
      `POST /admin/v1/tenants/${NO_SUCH_ID}/restores (it cannot be undone) requires ${ADMIN}`,
    );
    const viewerInto = await callJson(base, tokens[VIEWER], 'POST', path, intoNew);
    expect(viewerInto.body.error.message).to.include(`requires ${OPERATOR}`);
    const adminInPlace = await callJson(base, tokens[ADMIN], 'POST', path, { backup_id: 'b-1' });
    expect(adminInPlace.status).to.equal(404);
  });

  it('keeps an operator from deleting a tenant however the path is spelt', async () => {
    const spellings = [
      `/admin/v1/tenants/${NO_SUCH_ID}`,
      `/admin/v1/tenants/${NO_SUCH_ID}/`,
      `/admin/v1/TENANTS/${NO_SUCH_ID}`,
      `/admin/v1/tenants/%6Eo-such-thing`,
      `/admin/v1//tenants/${NO_SUCH_ID}`,
      `/admin/v1/./tenants/${NO_SUCH_ID}`,
      `/admin/v1/tenants/${NO_SUCH_ID}?destroy_backups=true`,
    ];
    for (const path of spellings) {
      const answer = await callJson(base, tokens[OPERATOR], 'DELETE', path);
      // Refused, or no route at all; never the delete route itself (which answers tenant_not_found).
      expect(answer.body.error?.code, path).to.be.oneOf(['insufficient_scope', 'route_not_found']);
      const admin = await callJson(base, tokens[ADMIN], 'DELETE', path);
      if (answer.body.error.code === 'insufficient_scope') {
        expect(admin.body.error?.code, path).to.equal('tenant_not_found');
      }
    }
  });

  it('refuses tokens without an admin scope: tenant tokens and unknown scopes', async () => {
    const tenantToken = await plane.mint({ tenantId: 'acme', scopes: ['tenantplane:superuser'] });
    for (const [method, path] of [
      ['GET', '/admin/v1/tenants'],
      ['POST', '/admin/v1/tenants'],
    ] as const) {
      const answer = await callJson(
        base,
        tenantToken,
        method,
        path,
        method === 'POST' ? HARMLESS_BODY : undefined,
      );
      expect(answer.status, `${method} ${path}`).to.equal(403);
      expect(answer.body.error.code).to.equal('insufficient_scope');
    }
  });

  it('GET /admin/v1/me says who the caller is and what it may do', async () => {
    const seen: Record<string, unknown> = {};
    for (const scope of SCOPES) {
      const answer = await callJson(base, tokens[scope], 'GET', '/admin/v1/me');
      expect(answer.status).to.equal(200);
      expect(answer.body.subject).to.equal(`ops-${scope}`);
      expect(answer.body.scopes).to.deep.equal([scope]);
      seen[scope] = answer.body.can;
    }
    expect(seen).to.deep.equal({
      [ADMIN]: { write: true, delete_tenants: true, restore_in_place: true, impersonate: true },
      [OPERATOR]: { write: true, delete_tenants: false, restore_in_place: false, impersonate: true },
      [SUPPORT]: { write: false, delete_tenants: false, restore_in_place: false, impersonate: true },
      [VIEWER]: { write: false, delete_tenants: false, restore_in_place: false, impersonate: false },
    });
    const several = await plane.mint({ scopes: [VIEWER, SUPPORT, 'openid'] });
    const both = await callJson(base, several, 'GET', '/admin/v1/me');
    expect(both.body.scopes).to.deep.equal([VIEWER, SUPPORT]);
    expect(both.body.can).to.include({ impersonate: true, write: false });
  });

  it('keeps `tenantctl token --admin` tokens at tenantplane:admin', async () => {
    const admin = await plane.mint({ admin: true });
    const answer = await callJson(base, admin, 'GET', '/admin/v1/me');
    expect(answer.body.scopes).to.deep.equal([ADMIN]);
  });
});
