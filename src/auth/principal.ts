import type { JWTPayload } from 'jose';

/** The scope that grants the admin API. */
export const ADMIN_SCOPE = 'tenantplane:admin';

/** Who a verified token says the caller is. */
export interface Principal {
  subject: string | undefined;
  /** From the `tenant_id` claim; undefined for tokens that carry none (admin tokens may not). */
  tenantId: string | undefined;
  scopes: string[];
  isAdmin: boolean;
  claims: JWTPayload;
}

/** Verifies a bearer token; throws UnauthenticatedError (401) or UnavailableError (503). */
export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
}

declare global {
  namespace Express {
    interface Request {
      /** Set by the authentication middleware once the token is verified. */
      principal?: Principal;
    }
  }
}
