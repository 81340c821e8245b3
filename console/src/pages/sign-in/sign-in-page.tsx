import { type FormEvent, useState } from 'react';
import { ApiError, api, data } from '../../api/client';
import { signIn, signOut } from '../../api/session';

/**
 * Sign-in with a pasted admin token (`tenantctl token --admin`, or one from the identity provider). The
 * token is tried on the API before it is kept, so a wrong or expired one is refused here, not on a page.
 */
export function SignInPage({ onSignedIn }: { onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    signIn(token);
    try {
      await data(api.GET('/admin/v1/me'));
      onSignedIn();
    } catch (error) {
      signOut();
      setProblem(
        error instanceof ApiError && error.status === 401
          ? 'This token was not accepted: it is malformed, expired or from another issuer.'
          : error instanceof ApiError && error.status === 403
            ? 'This token carries no admin scope.'
            : `Could not sign in: ${(error as Error).message}`,
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" className="sign-in">
      <h1>Sign in to the tenantplane console</h1>
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
