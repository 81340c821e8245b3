import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { useCapabilities } from '../../api/capabilities';
import { api, data } from '../../api/client';
import { ErrorMessage } from '../../components/error-message';
import { ImpersonatedDeployments, ImpersonatedWorkflows } from './impersonated-rows';
import { ImpersonationBanner } from './impersonation-banner';
import type { ImpersonationGrant } from './impersonation-grant';

/**
 * "View as tenant": a read-only impersonation token for the tenant, asked for with a reason the audit log
 * records, used to read the tenant's own view (GET /api/v1/tenant) and its rows as its application would,
 * under a banner. The token lives in this component's memory only: End or leaving the page forgets it.
 */
export function ViewAsTenant({ tenantId }: { tenantId: string }) {
  const [reason, setReason] = useState('');
  const queries = useQueryClient();
  const operator = useCapabilities().data?.subject ?? 'you';
  const view = useMutation({
    mutationFn: async () => {
      const grant = await data(
        api.POST('/admin/v1/tenants/{id}/impersonations', {
          params: { path: { id: tenantId } },
          body: { reason },
        }),
      );
      const own = await data(
        api.GET('/api/v1/tenant', { headers: { Authorization: `Bearer ${grant.token}` } }),
      );
      const held: ImpersonationGrant = { tenantId, token: grant.token, expiresAt: grant.expires_at };
      return { own, grant: held };
    },
    // The mutation's answer holds the token: drop it as soon as nothing shows it.
    gcTime: 0,
    // The impersonation is on the audit trail now, with its reason.
    onSettled: () => void queries.invalidateQueries({ queryKey: ['audit'] }),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    view.mutate();
  };
  const own = view.data?.own;
  const grant = view.data?.grant;
  return (
    <section aria-labelledby="view-as-heading">
      <h2 id="view-as-heading">View as tenant</h2>
      {grant ? <ImpersonationBanner grant={grant} operator={operator} onEnd={() => view.reset()} /> : null}
      {grant ? null : (
        <form className="inline" onSubmit={submit}>
          <label htmlFor="impersonation-reason">Reason (recorded in the audit log)</label>
          <input
            id="impersonation-reason"
            value={reason}
            maxLength={500}
            onChange={(event) => setReason(event.target.value)}
          />
          <button type="submit" disabled={reason.trim() === '' || view.isPending}>
            View as tenant
          </button>
        </form>
      )}
      <ErrorMessage error={view.error} />
      {own ? (
        <section className="tenant-view" aria-label={`${own.id} as its application sees it`}>
          <p className="help">
            Read with a read-only token for {own.id}, kept in this page only until you End or leave it.
          </p>
          <dl className="facts">
            <dt>Name</dt>
            <dd>{own.name}</dd>
            <dt>Tier</dt>
            <dd>{own.tier}</dd>
            <dt>Features</dt>
            <dd>
              {Object.entries(own.features)
                .map(([name, on]) => `${name}: ${on ? 'on' : 'off'}`)
                .join(', ') || 'none'}
            </dd>
            <dt>Limits</dt>
            <dd>
              <code>{JSON.stringify(own.limits)}</code>
            </dd>
            <dt>Usage</dt>
            <dd>
              <code>{JSON.stringify(own.usage)}</code>
            </dd>
          </dl>
          {grant ? (
            <>
              <ImpersonatedDeployments grant={grant} />
              <ImpersonatedWorkflows grant={grant} />
            </>
          ) : null}
        </section>
      ) : null}
    </section>
  );
}
