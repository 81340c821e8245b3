import type { Request, RequestHandler } from 'express';
import { ForbiddenError, UnauthenticatedError } from '../errors/index.js';
import { ADMIN_SCOPES, type AdminAction, adminActionOf, allows, scopeNeeded } from './admin-scopes.js';

const WHY: Record<AdminAction, string> = {
  read: '',
  write: '',
  impersonate: ' (impersonating a tenant)',
  destroy: ' (it cannot be undone)',
};

/** The scopes any one of which lets a request through, the narrowest last, and why it needs them. */
interface Requirement {
  accepted: (scopes: readonly string[]) => boolean;
  needed: string;
  why: string;
}

/**
 * Lets a request through when its token meets `requirementOf(req)`; otherwise 403 `insufficient_scope`
 * naming the scope needed, with RFC 6750's challenge saying the same.
 */
function authorize(requirementOf: (req: Request) => Requirement): RequestHandler {
  return (req, res, next) => {
    const principal = req.principal;
    if (principal === undefined) {
      // authenticate() was not mounted before this route: refuse rather than guess.
      next(new UnauthenticatedError('request is not authenticated', 'missing_token'));
      return;
    }
    const { accepted, needed, why } = requirementOf(req);
    if (accepted(principal.scopes)) {
      next();
      return;
    }
    res.setHeader(
      'WWW-Authenticate',
      `Bearer realm="tenantplane", error="insufficient_scope", scope="${needed}"`,
    );
    next(
      new ForbiddenError(
        `${req.method} ${req.baseUrl}${req.path}${why} requires ${needed}`,
        'insufficient_scope',
      ),
    );
  };
}

/**
 * The admin API's check: lets a request through only when the token's scopes allow what it does (see
 * admin-scopes.ts). Mount after authenticate() and after the body is parsed: whether a restore is in
 * place depends on it.
 */
export function authorizeAdmin(): RequestHandler {
  return authorize((req) => {
    const action = adminActionOf(req.method, req.path, req.body);
    return { accepted: (scopes) => allows(scopes, action), needed: scopeNeeded(action), why: WHY[action] };
  });
}

/** Lets only tokens holding `tenantplane:admin` through, whatever the request; mount after authenticate(). */
export function requireAdmin(): RequestHandler {
  const requirement: Requirement = {
    accepted: (scopes) => scopes.includes(ADMIN_SCOPES.admin),
    needed: ADMIN_SCOPES.admin,
    why: '',
  };
  return authorize(() => requirement);
}
