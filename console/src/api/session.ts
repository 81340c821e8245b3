/**
 * The signed-in admin token. It lives in sessionStorage (this tab only, gone when the tab closes) and is
 * sent as a bearer header, never put in a URL: the development link's `#token=` fragment (never sent to
 * the server) is read once and removed from the address bar and history.
 */

const STORAGE_KEY = 'tenantplane.console.token';

export function currentToken(): string | null {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function signIn(token: string): void {
  sessionStorage.setItem(STORAGE_KEY, token.trim());
}

export function signOut(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** Takes a `#token=…` fragment (the link `npm start` prints) as the sign-in, and erases it from the URL. */
export function takeTokenFromFragment(): void {
  const match = /^#token=([^&]+)/.exec(window.location.hash);
  if (!match) return;
  signIn(decodeURIComponent(match[1]!));
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
}
