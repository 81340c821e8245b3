/**
 * A read-only impersonation token for one tenant, held in the Tenant page's memory only: never in
 * sessionStorage, the URL or a log. It is forgotten on End and when the page goes away.
 */
export interface ImpersonationGrant {
  tenantId: string;
  token: string;
  expiresAt: string;
}

/** The headers of a request made as the tenant (the client keeps a request's own Authorization). */
export function asTenant(grant: ImpersonationGrant) {
  return { Authorization: `Bearer ${grant.token}` };
}

/**
 * A query key for what was read with the grant: its tenant and expiry tell grants apart without putting
 * the token itself into the query cache.
 */
export function grantKey(grant: ImpersonationGrant, ...rest: unknown[]) {
  return ['impersonation', grant.tenantId, grant.expiresAt, ...rest];
}
