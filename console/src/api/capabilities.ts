import { useQuery } from '@tanstack/react-query';
import { api, data, type Schemas } from './client';

/**
 * Who is signed in and what the scope lets it do (GET /admin/v1/me), so the console offers only that.
 * The server keeps the rule (src/auth/admin-scopes.ts) and refuses the rest with 403
 * `insufficient_scope` whatever a page offers; the console never works the rule out itself.
 */
export type Capabilities = Schemas['Me'];

/** The signed-in token's capabilities, asked once per sign-in. */
export function useCapabilities() {
  return useQuery({
    queryKey: ['me'],
    queryFn: () => data(api.GET('/admin/v1/me')),
    staleTime: Number.POSITIVE_INFINITY,
  });
}
