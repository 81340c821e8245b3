import type { JWTPayload } from 'jose';

/** The scope that grants the whole admin API (see admin-scopes.ts for the others). */
export const ADMIN_SCOPE = 'tenantplane:admin';

/** Who a verified token says the caller is. */
export interface Principal {
  subject: string | undefined;
  /** From the `tenant_id` claim; undefined for tokens that carry none (admin tokens may not). */
  tenantId: string | undefined;
  scopes: string[];
  /** Holds `tenantplane:admin`, the widest admin scope. */
  isAdmin: boolean;
  /**
   * The `tenant_role` claim as the token states it (`member` when absent). Checked where it matters (the
   * application API), so that an unknown role is a 403 naming it rather than a 401 for the whole token.
   */
  tenantRole: string;
  /**
   * RFC 8693's `act.sub`: the operator acting through this token (an impersonation). Such a token only
   * reads, and every request made with it is audited.
   */
  actor: string | undefined;
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
