import { useMutation, useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import type { Capabilities } from '../../api/capabilities';
import { api, data, type Schemas } from '../../api/client';
import { ErrorMessage } from '../../components/error-message';

/** A job one of these actions started, for the section to follow. */
export interface StartedJob {
  label: string;
  jobId: string;
}

/** Each attempt of an action is one request: a retried click (or network retry) joins the same job. */
const idempotencyKey = () => ({ 'Idempotency-Key': crypto.randomUUID() });

/**
 * What can be done with one complete backup: verify it (a restore drill into a scratch database), restore
 * it into a new tenant, or (admin only, behind typing the tenant's id) over the tenant's own rows.
 */
export function BackupActions({
  tenantId,
  tier,
  backup,
  capabilities,
  onStarted,
}: {
  tenantId: string;
  /** The tenant's tier, the new tenant's by default. */
  tier: string;
  backup: Schemas['Backup'];
  capabilities: Capabilities;
  onStarted: (job: StartedJob) => void;
}) {
  const [open, setOpen] = useState<'restore' | null>(null);
  const [into, setInto] = useState('');
  const [intoTier, setIntoTier] = useState(tier);
  const tiers = useQuery({
    queryKey: ['tiers'],
    queryFn: () => data(api.GET('/admin/v1/tiers')),
    staleTime: 60_000,
    enabled: open === 'restore',
  });
  const [confirm, setConfirm] = useState('');
  const path = { id: tenantId, backup_id: backup.id };
  const verify = useMutation({
    mutationFn: () =>
      data(api.POST('/admin/v1/tenants/{id}/backups/{backup_id}/drills', { params: { path } })),
    onSuccess: (accepted) => onStarted({ label: 'Verify', jobId: accepted.job_id }),
  });
  const restore = useMutation({
    mutationFn: (target: string | null) =>
      data(
        api.POST('/admin/v1/tenants/{id}/restores', {
          params: { path: { id: tenantId }, header: idempotencyKey() },
          body: { backup_id: backup.id, ...(target ? { into: target, tier: intoTier } : {}) },
        }),
      ),
    onSuccess: (accepted, target) => {
      onStarted({ label: target ? `Restore into ${target}` : 'Restore in place', jobId: accepted.job_id });
      setOpen(null);
    },
  });
  if (!capabilities.can.write || backup.state !== 'complete') return null;
  const restoreInto = (event: FormEvent) => {
    event.preventDefault();
    restore.mutate(into.trim());
  };
  const restoreInPlace = (event: FormEvent) => {
    event.preventDefault();
    restore.mutate(null);
  };
  return (
    <div className="row-actions">
      <button type="button" onClick={() => verify.mutate()} disabled={verify.isPending}>
        Verify
      </button>
      <button
        type="button"
        aria-expanded={open === 'restore'}
        onClick={() => setOpen(open ? null : 'restore')}
      >
        Restore…
      </button>
      {open === 'restore' ? (
        <div className="restore">
          <form className="inline" onSubmit={restoreInto}>
            <label htmlFor={`into-${backup.id}`}>New tenant id</label>
            <input id={`into-${backup.id}`} value={into} onChange={(event) => setInto(event.target.value)} />
            <label htmlFor={`into-tier-${backup.id}`}>Its tier</label>
            <select
              id={`into-tier-${backup.id}`}
              value={intoTier}
              onChange={(event) => setIntoTier(event.target.value)}
            >
              {(tiers.data?.data ?? [{ id: tier }]).map((option) => (
                <option key={option.id} value={option.id}>
                  {option.id}
                </option>
              ))}
            </select>
            <button type="submit" disabled={into.trim() === '' || restore.isPending}>
              Restore into new tenant
            </button>
          </form>
          {capabilities.can.restore_in_place ? (
            <form className="inline" onSubmit={restoreInPlace}>
              <label htmlFor={`in-place-${backup.id}`}>
                Replace {tenantId}'s rows with this backup: type {tenantId} to confirm
              </label>
              <input
                id={`in-place-${backup.id}`}
                value={confirm}
                autoComplete="off"
                onChange={(event) => setConfirm(event.target.value)}
              />
              <button
                type="submit"
                className="destructive"
                disabled={confirm !== tenantId || restore.isPending}
              >
                Restore in place
              </button>
            </form>
          ) : null}
        </div>
      ) : null}
      <ErrorMessage error={verify.error ?? restore.error} />
    </div>
  );
}

/** Exporting the tenant's rows (as JSON to BACKUP_URL), a job like the others. */
export function ExportButton({
  tenantId,
  onStarted,
}: {
  tenantId: string;
  onStarted: (job: StartedJob) => void;
}) {
  const start = useMutation({
    mutationFn: () =>
      data(
        api.POST('/admin/v1/tenants/{id}/exports', {
          params: { path: { id: tenantId }, header: idempotencyKey() },
        }),
      ),
    onSuccess: (accepted) => onStarted({ label: 'Export', jobId: accepted.job_id }),
  });
  return (
    <>
      <button type="button" onClick={() => start.mutate()} disabled={start.isPending}>
        Export rows
      </button>
      <ErrorMessage error={start.error} />
    </>
  );
}
