import type { ImpersonationGrant } from './impersonation-grant';

/**
 * What the operator must not lose sight of while viewing as a tenant: whose rows these are, that they are
 * read-only, who is acting and until when. Sticky, so it stays on screen above the tenant's rows.
 */
export function ImpersonationBanner({
  grant,
  operator,
  onEnd,
}: {
  grant: ImpersonationGrant;
  operator: string;
  onEnd: () => void;
}) {
  return (
    <aside className="impersonation-banner" aria-label="Impersonation">
      <p role="status">
        Viewing as <strong>{grant.tenantId}</strong> — read-only, as {operator}, expires at{' '}
        {new Date(grant.expiresAt).toLocaleString()}
      </p>
      <button type="button" onClick={onEnd}>
        End
      </button>
    </aside>
  );
}
