import type { RequestHandler, Response } from 'express';
import { ForbiddenError, UnauthenticatedError } from '../errors/index.js';
import { traceTokenVerification } from '../tracing/tenant-spans.js';
import { ADMIN_SCOPE, type TokenVerifier } from './principal.js';

/** RFC 6750 credentials: the scheme is case-insensitive, the token is base64url-ish ("b64token"). */
const BEARER_PATTERN = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** RFC 6750 asks 401 answers to say which scheme to use and, for a rejected token, why. */
function challenge(res: Response, error?: string): void {
  res.setHeader('WWW-Authenticate', `Bearer realm="tenantplane"${error ? `, error="${error}"` : ''}`);
}

/** Verifies the bearer token and sets `req.principal`; failures go to the error handler via next(err). */
export function authenticate(verifier: TokenVerifier): RequestHandler {
  return (req, res, next) => {
    // Only this middleware may say who the caller is.
    req.principal = undefined;
    const header = req.headers.authorization;
    const match = header === undefined ? null : BEARER_PATTERN.exec(header);
    if (match === null) {
      challenge(res);
      const message =
        header === undefined ? 'missing bearer token' : 'Authorization header is not a bearer token';
      next(new UnauthenticatedError(message, 'missing_token'));
      return;
    }
    traceTokenVerification(() => verifier.verify(match[1]!)).then(
      (principal) => {
        req.principal = principal;
        next();
      },
      (error: unknown) => {
        if (error instanceof UnauthenticatedError) challenge(res, 'invalid_token');
        next(error);
      },
    );
  };
}

/** Lets only principals holding the admin scope through; mount after authenticate(). */
export function requireAdmin(): RequestHandler {
  return (req, _res, next) => {
    if (req.principal === undefined) {
      // authenticate() was not mounted before this route: refuse rather than guess.
      next(new UnauthenticatedError('request is not authenticated', 'missing_token'));
    } else if (!req.principal.isAdmin) {
      next(new ForbiddenError(`this route needs the ${ADMIN_SCOPE} scope`, 'admin_scope_required'));
    } else {
      next();
    }
  };
}
