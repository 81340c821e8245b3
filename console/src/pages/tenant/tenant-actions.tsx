import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import type { Capabilities } from '../../api/capabilities';
import { api, data, type Schemas } from '../../api/client';
import { ErrorMessage } from '../../components/error-message';
import { JobProgress } from '../../components/job-progress';

type Tenant = Schemas['TenantDetail'];

/**
 * Changing the tier (a move when the placement changes, whose progress shows live), suspending and
 * resuming. Offered only to a scope that may write; the server decides anyway.
 */
export function TenantActions({ tenant }: { tenant: Tenant }) {
  const queries = useQueryClient();
  const [tier, setTier] = useState(tenant.tier);
  const [moveJob, setMoveJob] = useState<string | null>(null);
  const tiers = useQuery({
    queryKey: ['tiers'],
    queryFn: () => data(api.GET('/admin/v1/tiers')),
    staleTime: 60_000,
  });
  const refresh = () => {
    void queries.invalidateQueries({ queryKey: ['tenant', tenant.id] });
    void queries.invalidateQueries({ queryKey: ['audit'] });
  };
  const update = useMutation({
    mutationFn: (body: Schemas['TenantUpdate']) =>
      data(api.PATCH('/admin/v1/tenants/{id}', { params: { path: { id: tenant.id } }, body })),
    onSuccess: (answer) => {
      if ('job_id' in answer) setMoveJob(answer.job_id);
      refresh();
    },
  });
  const changeTier = (event: FormEvent) => {
    event.preventDefault();
    update.mutate({ tier });
  };
  return (
    <section aria-labelledby="actions-heading">
      <h2 id="actions-heading">Change</h2>
      <form className="inline" onSubmit={changeTier}>
        <label htmlFor="new-tier">Tier</label>
        <select id="new-tier" value={tier} onChange={(event) => setTier(event.target.value)}>
          {tiers.data?.data.map((option) => (
            <option key={option.id} value={option.id}>
              {option.id} ({option.placement})
            </option>
          ))}
        </select>
        <button type="submit" disabled={tier === tenant.tier || update.isPending}>
          Change tier
        </button>
      </form>
      {moveJob ? <JobProgress jobId={moveJob} label="Move" onFinished={refresh} /> : null}
      {tenant.status === 'suspended' ? (
        <button type="button" onClick={() => update.mutate({ status: 'active' })}>
          Resume
        </button>
      ) : (
        <button type="button" onClick={() => update.mutate({ status: 'suspended' })}>
          Suspend
        </button>
      )}
      <ErrorMessage error={update.error} />
    </section>
  );
}

/**
 * Deleting, behind typing the tenant's id. Crypto-shredding is spelled out: with it, the tenant's backup
 * keys are destroyed and every backup of it becomes unreadable for good.
 */
export function TenantDeletion({ tenant, capabilities }: { tenant: Tenant; capabilities: Capabilities }) {
  const queries = useQueryClient();
  const [typed, setTyped] = useState('');
  const [shred, setShred] = useState(false);
  const remove = useMutation({
    mutationFn: () =>
      data(
        api.DELETE('/admin/v1/tenants/{id}', {
          params: { path: { id: tenant.id }, query: { destroy_backups: shred } },
        }),
      ),
    onSuccess: () => void queries.invalidateQueries({ queryKey: ['tenant', tenant.id] }),
  });
  if (!capabilities.can.delete_tenants) return null;
  return (
    <section aria-labelledby="delete-heading" className="danger">
      <h2 id="delete-heading">Delete tenant</h2>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          remove.mutate();
        }}
      >
        <label htmlFor="confirm-id">Type the tenant id ({tenant.id}) to confirm</label>
        <input
          id="confirm-id"
          value={typed}
          autoComplete="off"
          onChange={(event) => setTyped(event.target.value)}
        />
        <div className="check">
          <input
            id="shred"
            type="checkbox"
            checked={shred}
            onChange={(event) => setShred(event.target.checked)}
          />
          <label htmlFor="shred">
            Also destroy its backup keys (crypto-shredding): every backup of this tenant becomes unreadable,
            and no restore is possible afterwards.
          </label>
        </div>
        <button type="submit" className="destructive" disabled={typed !== tenant.id || remove.isPending}>
          Delete {tenant.id}
        </button>
      </form>
      <ErrorMessage error={remove.error} />
    </section>
  );
}
