import { errorResponses, jsonBody, jsonResponse, type OpenApiObject, ref } from './openapi-helpers.js';

/** The caller's permissions and impersonation (admin API), and the keys impersonation tokens verify with. */
export const impersonationPaths: Record<string, OpenApiObject> = {
  '/admin/v1/me': {
    get: {
      operationId: 'getMe',
      tags: ['access'],
      summary: 'Who the caller is and what its admin scopes let it do',
      description:
        'Any admin scope may call it. A console offers only what `can` allows; the server checks every request anyway (403 `insufficient_scope`).',
      responses: { '200': jsonResponse('the caller', 'Me'), ...errorResponses(401, 403, 503) },
    },
  },
  '/admin/v1/tenants/{id}/impersonations': {
    parameters: [ref('parameters', 'TenantId')],
    post: {
      operationId: 'impersonateTenant',
      tags: ['access'],
      summary: 'Mint a read-only token for the tenant, valid 15 minutes (audited with the reason)',
      description:
        'Needs `tenantplane:support`, `:operator` or `:admin`. The token carries `tenant_id`, `tenant_role: viewer`, `act: {sub: <operator>}` (RFC 8693), a `jti` and `sub: tenant:<id>`; writes with it are 403 `read_only_role`. Audited `tenant.impersonation` with the reason; each request made with the token is audited `tenant.impersonation.request` with the operator as actor. Signed by the development issuer, or, with an external identity provider, by tenantplane under `iss` `tenantplane-impersonation` with the keys at `/.well-known/tenantplane-impersonation-jwks.json`.',
      requestBody: jsonBody('ImpersonationRequest'),
      responses: {
        '201': jsonResponse('the token', 'Impersonation'),
        ...errorResponses(400, 401, 403, 404, 503),
      },
    },
  },
  '/.well-known/tenantplane-impersonation-jwks.json': {
    get: {
      operationId: 'getImpersonationJwks',
      tags: ['service'],
      summary: 'The public keys of impersonation tokens, for applications to verify them',
      security: [],
      responses: { '200': jsonResponse('JSON Web Key Set', 'Jwks') },
    },
  },
};

const permission = (description: string) => ({ type: 'boolean', description });

export const impersonationSchemas: Record<string, OpenApiObject> = {
  Me: {
    type: 'object',
    required: ['subject', 'scopes', 'can'],
    properties: {
      subject: { type: ['string', 'null'], description: "the token's `sub`" },
      scopes: {
        type: 'array',
        items: {
          enum: ['tenantplane:admin', 'tenantplane:operator', 'tenantplane:support', 'tenantplane:viewer'],
        },
        description: 'the admin scopes the token carries',
      },
      can: {
        type: 'object',
        required: ['write', 'delete_tenants', 'restore_in_place', 'impersonate'],
        properties: {
          write: permission('create and change (admin, operator)'),
          delete_tenants: permission('delete tenants and destroy their backup keys (admin)'),
          restore_in_place: permission("restore a backup over the tenant's own rows (admin)"),
          impersonate: permission('mint impersonation tokens (admin, operator, support)'),
        },
      },
    },
  },
  ImpersonationRequest: {
    type: 'object',
    required: ['reason'],
    additionalProperties: false,
    properties: {
      reason: { type: 'string', minLength: 1, maxLength: 500, description: 'why, for the audit log' },
    },
  },
  Impersonation: {
    type: 'object',
    required: ['token', 'expires_at'],
    properties: {
      token: { type: 'string', description: 'a read-only application token for the tenant' },
      expires_at: { type: 'string', format: 'date-time', description: 'at most 15 minutes from now' },
    },
  },
};
