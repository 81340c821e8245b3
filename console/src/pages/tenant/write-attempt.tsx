import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, data, type Schemas } from '../../api/client';
import { ErrorMessage } from '../../components/error-message';
import { asTenant, type ImpersonationGrant } from './impersonation-grant';

/**
 * Sends one real write with the impersonation token, so the operator sees the server refuse it
 * (403 `read_only_role`) rather than take the page's word for it. The attempt is audited like every
 * request made with the token.
 */
export function WriteAttempt({
  grant,
  deployment,
}: {
  grant: ImpersonationGrant;
  deployment: Schemas['Deployment'];
}) {
  const queries = useQueryClient();
  const attempt = useMutation({
    mutationFn: () =>
      data(
        api.PATCH('/api/v1/deployments/{id}', {
          params: { path: { id: deployment.id } },
          headers: asTenant(grant),
          body: { status: 'cancelled' },
        }),
      ),
    gcTime: 0,
    // The attempt is on the tenant's audit trail now, refused or not.
    onSettled: () => void queries.invalidateQueries({ queryKey: ['audit'] }),
  });
  return (
    <div className="row-actions">
      <button
        type="button"
        className="attempt"
        aria-label={`Try a change to ${deployment.project_name}`}
        disabled={attempt.isPending}
        onClick={() => attempt.mutate()}
      >
        Try a change
      </button>
      {attempt.isError ? (
        <>
          <span className="help">Refused by the server:</span>
          <ErrorMessage error={attempt.error} />
        </>
      ) : null}
      {attempt.isSuccess ? (
        <p role="alert" className="error">
          The server accepted a write made with an impersonation token.
        </p>
      ) : null}
    </div>
  );
}
