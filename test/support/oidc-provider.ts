import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import { closer, listen } from './identity-provider.js';

/** The admin API's audience: the resource indicator (RFC 8707) the provider issues access tokens for. */
export const API_AUDIENCE = 'https://tenantplane.example.test/admin';

/**
 * The scopes the provider grants each account for the API, as a real provider maps users to roles. An
 * account it does not know (its development login takes any name) is granted none of them.
 */
export const ACCOUNT_SCOPES: Readonly<Record<string, string>> = {
  'ops-alice': 'tenantplane:admin',
  'viewer-bob': 'tenantplane:viewer',
};

/** Every scope of the API the provider knows of. */
const API_SCOPES = 'tenantplane:admin tenantplane:operator tenantplane:support tenantplane:viewer';

export interface TestOidcProvider {
  /** Its issuer: `http://127.0.0.1:<port>`, what AUTH_ISSUER names. */
  issuer: string;
  jwksUrl: string;
  close(): Promise<void>;
}

/** The account a request is about: the code's at the token endpoint, the session's while signing in. */
function accountOf(ctx: KoaContextWithOIDC): string | undefined {
  return ctx.oidc.entities.AuthorizationCode?.accountId ?? ctx.oidc.session?.accountId;
}

/**
 * A real OpenID provider (the `oidc-provider` package) in the test process, on a free loopback port, with
 * one public client (no secret, PKCE required) for the console at `redirectUri`. Its access tokens are
 * JWTs for API_AUDIENCE carrying the account's scopes (ACCOUNT_SCOPES); its token endpoint answers CORS
 * requests from the console's origin. Sign-in goes through its development login and consent forms.
 */
export async function startOidcProvider(options: {
  clientId: string;
  redirectUri: string;
}): Promise<TestOidcProvider> {
  const server = http.createServer();
  const issuer = await listen(server);
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const consoleOrigin = new URL(options.redirectUri).origin;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: options.clientId,
        token_endpoint_auth_method: 'none',
        redirect_uris: [options.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'test-rsa', alg: 'RS256', use: 'sig' }] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    pkce: { required: () => true },
    // Seconds; stated so the provider does not warn that its defaults are in use.
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      Grant: 3600,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
    },
    clientBasedCORS: (_ctx, origin) => origin === consoleOrigin,
    async findAccount(_ctx, sub) {
      return { accountId: sub, claims: async () => ({ sub }) };
    },
    features: {
      devInteractions: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => API_AUDIENCE,
        async getResourceServerInfo(ctx, resourceIndicator) {
          if (resourceIndicator !== API_AUDIENCE) throw new Provider.errors.InvalidTarget();
          const account = accountOf(ctx);
          return {
            // Before anyone signs in, every scope may be asked for; the token carries the account's own.
            scope: account === undefined ? API_SCOPES : (ACCOUNT_SCOPES[account] ?? ''),
            audience: API_AUDIENCE,
            accessTokenFormat: 'jwt',
            accessTokenTTL: 600,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
  });
  server.on('request', provider.callback());
  return { issuer, jwksUrl: `${issuer}/jwks`, close: closer(server) };
}
