import express, { type Router } from 'express';
import type { AuthConfig } from '../config.js';
import { CONSOLE_DIST_DIR, consoleAssets } from './console-assets.js';
import { consoleCsp } from './security-headers.js';

/** What the console reads at start, before anyone signs in: how it may sign in. */
export interface ConsoleSettings {
  /** The identity provider to sign in through (authorization code with PKCE), or null: pasted tokens only. */
  oidc: { issuer: string; client_id: string; scope: string; audience: string } | null;
}

export function consoleSettings(auth: AuthConfig): ConsoleSettings {
  const { consoleOidc, issuer, audience } = auth;
  if (!consoleOidc || issuer === undefined || audience === undefined) return { oidc: null };
  return { oidc: { issuer, client_id: consoleOidc.clientId, scope: consoleOidc.scope, audience } };
}

/**
 * The console under /console: `config.json` (public: it names only the provider and the console's public
 * client) and the built files, whose CSP lets the page fetch from the identity provider's origin when it
 * signs in through it, and from nowhere else.
 */
export function consoleRoutes(auth: AuthConfig, dir = CONSOLE_DIST_DIR): Router {
  const settings = consoleSettings(auth);
  const connectOrigins = settings.oidc ? [new URL(settings.oidc.issuer).origin] : [];
  const router = express.Router();
  // A file of the console, computed from the configuration, like the console's other files not a route
  // of the API (the OpenAPI document describes the API).
  router.use((req, res, next) => {
    if (req.path !== '/config.json' || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
    res.setHeader('Cache-Control', 'no-cache');
    res.json(settings);
  });
  router.use(consoleAssets(dir, consoleCsp(connectOrigins)));
  return router;
}
