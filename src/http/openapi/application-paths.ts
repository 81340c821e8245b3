import {
  emptyResponse,
  errorResponses,
  jsonBody,
  jsonResponse,
  type OpenApiObject,
  RATE_LIMIT_HEADERS,
  ref,
} from './openapi-helpers.js';

/** Errors any application API request can meet, whatever the operation. */
const COMMON_ERRORS = [400, 401, 403, 429, 503] as const;

/** The CRUD paths of one application resource, as `registerResource` serves them. */
function resourcePaths(collection: string, schema: string, tag: string): Record<string, OpenApiObject> {
  const ok = (description: string, body: string, status = '200') => ({
    [status]: jsonResponse(description, body, RATE_LIMIT_HEADERS),
  });
  const operation = (id: string, summary: string, details: { parameters?: unknown[] } & OpenApiObject) => {
    const { parameters = [], ...rest } = details;
    return {
      operationId: id,
      tags: [tag],
      summary,
      parameters: [ref('parameters', 'XTenantId'), ...parameters],
      ...rest,
    };
  };
  return {
    [`/api/v1/${collection}`]: {
      get: operation(`list${schema}s`, `The tenant's ${collection}, newest first`, {
        parameters: [
          ref('parameters', 'StatusFilter'),
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
          ref('parameters', 'Cursor'),
        ],
        responses: { ...ok('a page', `${schema}Page`), ...errorResponses(...COMMON_ERRORS) },
      }),
      post: operation(`create${schema}`, `Create one of the tenant's ${collection}`, {
        requestBody: jsonBody(`${schema}Create`),
        responses: { ...ok('created', schema, '201'), ...errorResponses(...COMMON_ERRORS) },
      }),
    },
    [`/api/v1/${collection}/{id}`]: {
      parameters: [ref('parameters', 'RowId')],
      get: operation(`get${schema}`, 'One row', {
        responses: { ...ok('the row', schema), ...errorResponses(...COMMON_ERRORS, 404) },
      }),
      patch: operation(`update${schema}`, 'Change any of the fields', {
        requestBody: jsonBody(`${schema}Update`),
        responses: { ...ok('the changed row', schema), ...errorResponses(...COMMON_ERRORS, 404) },
      }),
      delete: operation(`delete${schema}`, 'Delete the row', {
        responses: {
          '204': emptyResponse('deleted', RATE_LIMIT_HEADERS),
          ...errorResponses(...COMMON_ERRORS, 404),
        },
      }),
    },
  };
}

/** The application API: the tenant is the verified token's `tenant_id` claim. */
export const applicationPaths: Record<string, OpenApiObject> = {
  '/api/v1/tenant': {
    get: {
      operationId: 'getOwnTenant',
      tags: ['tenant'],
      summary: "The tenant's own view: effective feature flags, limits and quota usage",
      parameters: [ref('parameters', 'XTenantId')],
      responses: {
        '200': jsonResponse('the tenant', 'OwnTenant', RATE_LIMIT_HEADERS),
        ...errorResponses(...COMMON_ERRORS),
      },
    },
  },
  ...resourcePaths('deployments', 'Deployment', 'deployments'),
  ...resourcePaths('workflows', 'Workflow', 'workflows'),
};
