/**
 * Sign-in through the identity provider: the OpenID Connect authorization code flow with PKCE, as a public
 * client (no secret; the browser holds nothing worth stealing before the code is exchanged). The access
 * token the provider issues for the API's audience is then kept like a pasted token (session.ts).
 *
 * The page leaves for the provider's authorization endpoint; what is needed on return (the PKCE verifier,
 * state, nonce, the token endpoint) waits in this tab's sessionStorage, and is used once.
 */

/** GET /console/config.json (src/http/console-config.ts). */
export interface OidcSettings {
  issuer: string;
  client_id: string;
  scope: string;
  audience: string;
}

/** What the return from the provider needs, kept while the tab is away. */
interface PendingSignIn {
  state: string;
  nonce: string;
  verifier: string;
  tokenEndpoint: string;
  redirectUri: string;
  clientId: string;
  audience: string;
}

/** The provider's answer on the redirect back: a code, or an error it chose to report. */
interface AuthorizationResponse {
  state: string;
  code: string | null;
  error: string | null;
  errorDescription: string | null;
}

const PENDING_KEY = 'tenantplane.console.oidc';

/** Where the provider sends the browser back: the console's root, which handles the answer on load. */
function redirectUri(): string {
  return `${window.location.origin}/console/`;
}

/** How the console may sign in; null when only a pasted token will do. */
export async function loadOidcSettings(): Promise<OidcSettings | null> {
  const answer = await fetch('/console/config.json', { headers: { accept: 'application/json' } });
  if (!answer.ok) throw new Error(`GET /console/config.json answered ${answer.status}`);
  const body = (await answer.json()) as { oidc: OidcSettings | null };
  return body.oidc;
}

function base64url(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** 32 random bytes, base64url: 43 characters, what RFC 7636 asks of a code verifier. */
function randomValue(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function s256(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

interface Discovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
}

/** The provider's metadata; an answer naming another issuer is refused (OpenID Connect Discovery, 4.3). */
async function discover(issuer: string): Promise<Discovery> {
  const answer = await fetch(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
  if (!answer.ok) throw new Error(`the identity provider's discovery answered ${answer.status}`);
  const metadata = (await answer.json()) as Discovery;
  if (metadata.issuer !== issuer) {
    throw new Error(`the identity provider calls itself ${metadata.issuer}, not ${issuer}`);
  }
  return metadata;
}

/** Leaves for the provider's sign-in. The promise only settles when discovery fails. */
export async function startOidcSignIn(settings: OidcSettings): Promise<void> {
  const metadata = await discover(settings.issuer);
  const pending: PendingSignIn = {
    state: randomValue(),
    nonce: randomValue(),
    verifier: randomValue(),
    tokenEndpoint: metadata.token_endpoint,
    redirectUri: redirectUri(),
    clientId: settings.client_id,
    audience: settings.audience,
  };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(metadata.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: settings.client_id,
    redirect_uri: pending.redirectUri,
    scope: settings.scope,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await s256(pending.verifier),
    code_challenge_method: 'S256',
    // RFC 8707: the access token is for the API (its AUTH_AUDIENCE), not for the provider's userinfo.
    resource: settings.audience,
  }).toString();
  window.location.assign(url.toString());
}

/** The provider's answer this page load returned with, until the sign-in page takes it. */
let returned: AuthorizationResponse | null = null;
let exchange: Promise<string> | null = null;

/**
 * Takes the provider's answer (`?code=…&state=…` or `?error=…&state=…`) from the address bar, once, and
 * erases it from the URL and the history entry: main.tsx calls it before anything renders.
 */
export function takeAuthorizationResponse(): void {
  returned = readAuthorizationResponse();
}

/**
 * The access token of the sign-in this page load returned from, or null. The code is exchanged once, however
 * often a page asks while the exchange runs (a code used twice makes the provider revoke what it issued).
 */
export function returnedSignIn(): Promise<string> | null {
  if (returned) {
    const response = returned;
    returned = null;
    exchange = finishOidcSignIn(response).finally(() => {
      exchange = null;
    });
  }
  return exchange;
}

function readAuthorizationResponse(): AuthorizationResponse | null {
  // Only the redirect URI carries the provider's answer: another page's query is its own business.
  if (window.location.pathname !== new URL(redirectUri()).pathname) return null;
  const query = new URLSearchParams(window.location.search);
  const state = query.get('state');
  if (state === null || (!query.has('code') && !query.has('error'))) return null;
  const response: AuthorizationResponse = {
    state,
    code: query.get('code'),
    error: query.get('error'),
    errorDescription: query.get('error_description'),
  };
  for (const name of ['code', 'state', 'error', 'error_description', 'iss', 'session_state']) {
    query.delete(name);
  }
  const rest = query.toString();
  window.history.replaceState(null, '', `${window.location.pathname}${rest ? `?${rest}` : ''}`);
  return response;
}

/** The nonce an ID token carries (read, not verified: it came straight from the token endpoint over TLS). */
function nonceOf(idToken: string): unknown {
  const payload = idToken.split('.')[1] ?? '';
  const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
  return (JSON.parse(json) as { nonce?: unknown }).nonce;
}

/**
 * Exchanges the code for an access token at the token endpoint, with the PKCE verifier. Refuses an answer
 * to a sign-in this tab did not start (state), or an ID token minted for another (nonce).
 */
async function finishOidcSignIn(response: AuthorizationResponse): Promise<string> {
  const stored = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  const pending = stored ? (JSON.parse(stored) as PendingSignIn) : null;
  if (!pending || pending.state !== response.state) {
    throw new Error('this answer from the identity provider is not for a sign-in started in this tab');
  }
  if (response.error !== null || response.code === null) {
    throw new Error(`the identity provider refused: ${response.errorDescription ?? response.error}`);
  }
  const answer = await fetch(pending.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: response.code,
      redirect_uri: pending.redirectUri,
      client_id: pending.clientId,
      code_verifier: pending.verifier,
      resource: pending.audience,
    }),
  });
  const body = (await answer.json().catch(() => ({}))) as {
    access_token?: string;
    id_token?: string;
    error?: string;
    error_description?: string;
  };
  if (!answer.ok || typeof body.access_token !== 'string') {
    throw new Error(
      `the identity provider's token endpoint answered ${answer.status}: ${body.error_description ?? body.error ?? 'no access token'}`,
    );
  }
  if (body.id_token !== undefined && nonceOf(body.id_token) !== pending.nonce) {
    throw new Error('the ID token is not for this sign-in (its nonce differs)');
  }
  return body.access_token;
}
