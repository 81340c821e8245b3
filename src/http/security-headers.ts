import type { RequestHandler } from 'express';

/**
 * The console's policy: scripts, styles and connections only from this origin (the console is served
 * beside the API it calls), nothing inline, no framing, no `<base>`, forms only back here.
 * `connectOrigins` are the only other origins it may fetch from: the identity provider's, when the
 * console signs in through it (discovery and the token endpoint).
 */
export function consoleCsp(connectOrigins: readonly string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    ["connect-src 'self'", ...connectOrigins].join(' '),
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}

/** The console's policy without an identity provider to sign in through. */
export const CONSOLE_CSP = consoleCsp();

/** The API answers JSON and text, never a page: a document loaded from it may do nothing at all. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * Headers every answer carries: the API's restrictive Content-Security-Policy (the console's handler sets
 * its own), no MIME sniffing, no Referer leaving with a token-bearing URL, no framing.
 */
export function securityHeaders(): RequestHandler {
  return (_req, res, next) => {
    res.setHeader('Content-Security-Policy', API_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    next();
  };
}
