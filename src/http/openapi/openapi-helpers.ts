/** Small builders that keep the OpenAPI path tables short and uniform. */

export type OpenApiObject = Record<string, unknown>;

/** `{ $ref }` to a component: `ref('schemas', 'Tenant')`. */
export function ref(
  section: 'schemas' | 'responses' | 'parameters' | 'headers',
  name: string,
): OpenApiObject {
  return { $ref: `#/components/${section}/${name}` };
}

/** Every response carries the request id (the caller's, when it sent a sane one). */
const REQUEST_ID_HEADER: OpenApiObject = { 'X-Request-Id': ref('headers', 'XRequestId') };

/** A response without a body (204). */
export function emptyResponse(description: string, headers: OpenApiObject = {}): OpenApiObject {
  return { description, headers: { ...REQUEST_ID_HEADER, ...headers } };
}

/** A JSON response whose body is the named schema. */
export function jsonResponse(
  description: string,
  schema: string,
  headers: OpenApiObject = {},
): OpenApiObject {
  return {
    description,
    headers: { ...REQUEST_ID_HEADER, ...headers },
    content: { 'application/json': { schema: ref('schemas', schema) } },
  };
}

/** A JSON request body of the named schema; an optional one may be left out (every field has a default). */
export function jsonBody(schema: string, required = true): OpenApiObject {
  return { required, content: { 'application/json': { schema: ref('schemas', schema) } } };
}

/** Error responses by status, each the shared `{error: {code, message}}` body. */
export function errorResponses(...statuses: Array<400 | 401 | 403 | 404 | 409 | 429 | 503>): OpenApiObject {
  const names = {
    400: 'BadRequest',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'NotFound',
    409: 'Conflict',
    429: 'TooManyRequests',
    503: 'Unavailable',
  } as const;
  return Object.fromEntries(statuses.map((status) => [String(status), ref('responses', names[status])]));
}

/** The X-RateLimit-* headers every application API response carries. */
export const RATE_LIMIT_HEADERS: OpenApiObject = {
  'X-RateLimit-Limit': ref('headers', 'XRateLimitLimit'),
  'X-RateLimit-Remaining': ref('headers', 'XRateLimitRemaining'),
  'X-RateLimit-Reset': ref('headers', 'XRateLimitReset'),
};
