import type { Request, RequestHandler } from 'express';
import { ForbiddenError } from '../errors/index.js';

/** The roles an application token's `tenant_role` may name; `member` when it names none. */
export const TENANT_ROLES = ['admin', 'member', 'viewer'] as const;
export type TenantRole = (typeof TENANT_ROLES)[number];

const KNOWN_ROLES: ReadonlySet<string> = new Set(TENANT_ROLES);
const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface TenantRoleOptions {
  /**
   * Runs before anything else for each request made with an impersonation token (one carrying `act`),
   * refused or not; the request waits for it, and its failure fails the request (see
   * impersonation-audit.ts). Other requests never reach it.
   */
  beforeImpersonatedRequest?: (req: Request) => Promise<void>;
}

/**
 * The application API's rule on `tenant_role`: `admin` and `member` read and write, `viewer` only reads
 * (writes are 403 `read_only_role`), and a role tenantplane does not know is 403 `unknown_tenant_role`
 * for every request, so a role added by an identity provider never grants more than intended. An
 * impersonation token only reads, whatever role it names. Mount after authenticate().
 */
export function enforceTenantRole(options: TenantRoleOptions = {}): RequestHandler {
  const { beforeImpersonatedRequest } = options;
  const check = (req: Request): void => {
    const principal = req.principal;
    if (principal === undefined) return;
    if (!KNOWN_ROLES.has(principal.tenantRole)) {
      // The role's value is not echoed: like every other claim, it stays out of answers and logs.
      throw new ForbiddenError(
        `the token's tenant_role is none of ${TENANT_ROLES.join(', ')}`,
        'unknown_tenant_role',
      );
    }
    const readOnly = principal.tenantRole === 'viewer' || principal.actor !== undefined;
    if (readOnly && !READ_METHODS.has(req.method)) {
      throw new ForbiddenError(
        principal.actor === undefined
          ? 'the tenant_role viewer only reads'
          : 'an impersonation token only reads',
        'read_only_role',
      );
    }
  };
  return (req, _res, next) => {
    if (req.principal?.actor === undefined || beforeImpersonatedRequest === undefined) {
      try {
        check(req);
      } catch (refused) {
        next(refused);
        return;
      }
      next();
      return;
    }
    beforeImpersonatedRequest(req)
      .then(() => check(req))
      .then(() => next(), next);
  };
}
