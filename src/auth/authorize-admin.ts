import type { RequestHandler } from 'express';
import { ForbiddenError, UnauthenticatedError } from '../errors/index.js';
import { type AdminAction, adminActionOf, allows, scopeNeeded } from './admin-scopes.js';

const WHY: Record<AdminAction, string> = {
  read: '',
  write: '',
  impersonate: ' (impersonating a tenant)',
  destroy: ' (it cannot be undone)',
};

/**
 * Lets an admin request through only when the token's scopes allow what it does (see admin-scopes.ts);
 * otherwise 403 `insufficient_scope` naming the scope needed, with RFC 6750's challenge saying the same.
 * Mount after authenticate() and after the body is parsed: whether a restore is in place depends on it.
 */
export function authorizeAdmin(): RequestHandler {
  return (req, res, next) => {
    const principal = req.principal;
    if (principal === undefined) {
      // authenticate() was not mounted before this route: refuse rather than guess.
      next(new UnauthenticatedError('request is not authenticated', 'missing_token'));
      return;
    }
    const action = adminActionOf(req.method, req.path, req.body);
    if (allows(principal.scopes, action)) {
      next();
      return;
    }
    const needed = scopeNeeded(action);
    res.setHeader(
      'WWW-Authenticate',
      `Bearer realm="tenantplane", error="insufficient_scope", scope="${needed}"`,
    );
    next(
      new ForbiddenError(
        `${req.method} /admin/v1${req.path}${WHY[action]} requires ${needed}`,
        'insufficient_scope',
      ),
    );
  };
}
