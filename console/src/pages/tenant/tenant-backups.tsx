import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { Capabilities } from '../../api/capabilities';
import { api, data } from '../../api/client';
import { ErrorMessage } from '../../components/error-message';
import { JobProgress } from '../../components/job-progress';
import { BackupActions, ExportButton, type StartedJob } from './backup-actions';

function size(bytes: number | null | undefined): string {
  if (typeof bytes !== 'number') return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/**
 * The tenant's backups, newest first: taking one, verifying, restoring and exporting, each a job whose
 * progress shows until it finishes.
 */
export function TenantBackups({
  id,
  tier,
  capabilities,
}: {
  id: string;
  tier: string;
  capabilities: Capabilities;
}) {
  const queries = useQueryClient();
  const [job, setJob] = useState<StartedJob | null>(null);
  const canWrite = capabilities.can.write;
  const backups = useQuery({
    queryKey: ['backups', id],
    queryFn: () => data(api.GET('/admin/v1/tenants/{id}/backups', { params: { path: { id } } })),
  });
  const take = useMutation({
    mutationFn: () =>
      data(
        api.POST('/admin/v1/tenants/{id}/backups', {
          params: { path: { id }, header: { 'Idempotency-Key': crypto.randomUUID() } },
          body: { compress: true },
        }),
      ),
    onSuccess: (accepted) => {
      setJob({ label: 'Backup', jobId: accepted.job_id });
      void queries.invalidateQueries({ queryKey: ['backups', id] });
    },
  });
  return (
    <section aria-labelledby="backups-heading">
      <h2 id="backups-heading">Backups</h2>
      {canWrite ? (
        <div className="row-actions">
          <button type="button" onClick={() => take.mutate()} disabled={take.isPending}>
            Take backup
          </button>
          <ExportButton tenantId={id} onStarted={setJob} />
        </div>
      ) : null}
      <ErrorMessage error={take.error ?? backups.error} />
      {job ? (
        <JobProgress
          key={job.jobId}
          jobId={job.jobId}
          label={job.label}
          onFinished={() => void queries.invalidateQueries({ queryKey: ['backups', id] })}
        />
      ) : null}
      <table className="list" aria-label="Backups">
        <thead>
          <tr>
            <th scope="col">Taken</th>
            <th scope="col">State</th>
            <th scope="col">Size</th>
            <th scope="col">Id</th>
            {canWrite ? <th scope="col">Actions</th> : null}
          </tr>
        </thead>
        <tbody>
          {backups.data?.data.map((backup) => (
            <tr key={backup.id}>
              <td>{new Date(backup.created_at).toLocaleString()}</td>
              <td>
                {backup.state}
                {backup.held ? ' (held)' : ''}
              </td>
              <td>{size(backup.size_bytes)}</td>
              <td>
                <code>{backup.id}</code>
              </td>
              {canWrite ? (
                <td>
                  <BackupActions
                    tenantId={id}
                    tier={tier}
                    backup={backup}
                    capabilities={capabilities}
                    onStarted={setJob}
                  />
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
      {backups.data && backups.data.data.length === 0 ? <p>No backups yet.</p> : null}
    </section>
  );
}
