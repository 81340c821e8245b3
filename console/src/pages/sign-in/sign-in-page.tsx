import { type FormEvent, useState } from 'react';
import { ApiError, api, data } from '../../api/client';
import { signIn, signOut } from '../../api/session';
import { IdentityProviderSignIn } from './identity-provider-sign-in';

/**
 * Keeps `token` if the API accepts it with an admin scope (GET /admin/v1/me); answers why not otherwise.
 * `from` names where it came from in the refusal.
 */
async function keepIfAccepted(token: string, from = 'This token'): Promise<string | null> {
  signIn(token);
  try {
    await data(api.GET('/admin/v1/me'));
    return null;
  } catch (error) {
    signOut();
    return error instanceof ApiError && error.status === 401
      ? `${from} was not accepted: it is malformed, expired, from another issuer or carries no admin scope (${error.message}).`
      : error instanceof ApiError && error.status === 403
        ? `${from} carries no admin scope.`
        : `Could not sign in: ${(error as Error).message}`;
  }
}

/**
 * Sign-in with a pasted admin token (`tenantctl token --admin`, or one from the identity provider), or
 * through the identity provider when the service names one. The token is tried on the API before it is
 * kept, so a wrong or expired one is refused here, not on a page.
 */
export function SignInPage({ onSignedIn }: { onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    const refused = await keepIfAccepted(token);
    setBusy(false);
    if (refused) setProblem(refused);
    else onSignedIn();
  }

  return (
    <main id="main" className="sign-in">
      <h1>Sign in to the tenantplane console</h1>
      <IdentityProviderSignIn
        keepIfAccepted={(accessToken) => keepIfAccepted(accessToken, "The identity provider's token")}
        onSignedIn={onSignedIn}
      />
      <form onSubmit={submit}>
        <label htmlFor="admin-token">Admin token</label>
        <textarea
          id="admin-token"
          name="admin-token"
          rows={4}
          autoComplete="off"
          spellCheck={false}
          required
          value={token}
          onChange={(event) => setToken(event.target.value)}
          aria-describedby="admin-token-help"
        />
        <p id="admin-token-help" className="help">
          A bearer token with a <code>tenantplane:</code> admin scope, e.g. from{' '}
          <code>tenantctl token --admin</code>. It is kept in this tab only and never put in a URL.
        </p>
        <button type="submit" disabled={busy || token.trim() === ''}>
          Sign in
        </button>
        {problem ? (
          <p role="alert" className="error">
            {problem}
          </p>
        ) : null}
      </form>
    </main>
  );
}
