import type { RequestHandler, Response } from 'express';
import { UnauthenticatedError } from '../errors/index.js';
import { traceTokenVerification } from '../tracing/tenant-spans.js';
import type { TokenVerifier } from './principal.js';

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
