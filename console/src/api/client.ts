import createClient from 'openapi-fetch';
import type { components, paths } from './schema';
import { currentToken } from './session';

export type Schemas = components['schemas'];

/** The one typed client of the API, on the origin that served the console. */
export const api = createClient<paths>({ baseUrl: window.location.origin });

api.use({
  onRequest({ request }) {
    const token = currentToken();
    // A request that brings its own token (a tenant's, when viewing as the tenant) keeps it.
    if (token && !request.headers.has('Authorization'))
      request.headers.set('Authorization', `Bearer ${token}`);
    return request;
  },
});

/** An answer of the API that was not a success: its status and `{error: {code, message}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The body of a successful answer, or an ApiError for any other (what TanStack Query shows as the error). */
export async function data<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data: body, error, response } = await call;
  if (body !== undefined && response.ok) return body;
  const detail = (error as { error?: { code?: string; message?: string } } | undefined)?.error;
  throw new ApiError(
    response.status,
    detail?.code ?? 'http_error',
    detail?.message ?? `${response.status} ${response.statusText}`,
  );
}
