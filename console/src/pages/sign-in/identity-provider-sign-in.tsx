import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { loadOidcSettings, returnedSignIn, startOidcSignIn } from '../../api/oidc';

interface Props {
  /** Keeps the token if the API accepts it; answers why not otherwise. */
  keepIfAccepted: (token: string) => Promise<string | null>;
  onSignedIn: () => void;
}

/**
 * "Sign in with <provider>", when the service names an identity provider (GET /console/config.json), and
 * the end of that sign-in when the page loads on the way back from it.
 */
export function IdentityProviderSignIn({ keepIfAccepted, onSignedIn }: Props) {
  const settings = useQuery({
    queryKey: ['console-config'],
    queryFn: loadOidcSettings,
    staleTime: Number.POSITIVE_INFINITY,
  });
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  // The page's callbacks as of the last render, for the exchange that outlives it.
  const latest = useRef({ keepIfAccepted, onSignedIn });
  latest.current = { keepIfAccepted, onSignedIn };

  useEffect(() => {
    const exchange = returnedSignIn();
    if (!exchange) return;
    // React may mount this twice in development: only the one still mounted acts on the answer.
    let mounted = true;
    setBusy(true);
    exchange
      .then(
        (token) => (mounted ? latest.current.keepIfAccepted(token) : null),
        (error: Error) => `Could not sign in through the identity provider: ${error.message}`,
      )
      .then((refused) => {
        if (!mounted) return;
        setBusy(false);
        if (refused) setProblem(refused);
        else latest.current.onSignedIn();
      });
    return () => {
      mounted = false;
    };
  }, []);

  const oidc = settings.data;
  if (!oidc) return null;
  return (
    <section className="identity-provider" aria-label="Identity provider">
      <button
        type="button"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          setProblem(null);
          startOidcSignIn(oidc).catch((error: Error) => {
            setBusy(false);
            setProblem(`Could not reach the identity provider: ${error.message}`);
          });
        }}
      >
        Sign in with {new URL(oidc.issuer).host}
      </button>
      {busy ? <p role="status">Signing in…</p> : null}
      {problem ? (
        <p role="alert" className="error">
          {problem}
        </p>
      ) : null}
      <p className="help">Or paste an admin token:</p>
    </section>
  );
}
