import { useQuery } from '@tanstack/react-query';
import { api, data, type Schemas } from '../api/client';

const FINISHED = new Set(['completed', 'failed']);

/** A job's progress object as text: its simple fields, named. */
export function describeProgress(progress: Record<string, unknown>): string {
  return Object.entries(progress)
    .filter(([, value]) => ['string', 'number', 'boolean'].includes(typeof value))
    .map(([name, value]) => `${name.replaceAll('_', ' ')}: ${String(value)}`)
    .join(', ');
}

/**
 * A job's state and progress, asked again every second until it finishes (GET /admin/v1/jobs/{id});
 * announced politely to screen readers as it changes.
 */
export function JobProgress({
  jobId,
  label,
  onFinished,
}: {
  jobId: string;
  label: string;
  /** Called with the finished job (completed or failed), its result included. */
  onFinished?: (job: Schemas['Job']) => void;
}) {
  const job = useQuery({
    queryKey: ['job', jobId],
    queryFn: async () => {
      const found = await data(api.GET('/admin/v1/jobs/{job_id}', { params: { path: { job_id: jobId } } }));
      if (FINISHED.has(found.state)) onFinished?.(found);
      return found;
    },
    refetchInterval: (query) => (query.state.data && FINISHED.has(query.state.data.state) ? false : 1000),
  });
  const state = job.data?.state ?? 'waiting';
  const details = job.data ? describeProgress(job.data.progress ?? {}) : '';
  return (
    <div className={`job job-${state}`} role="status" aria-live="polite">
      <strong>{label}</strong>: <span className="job-state">{state}</span>
      {details ? <span className="job-details"> — {details}</span> : null}
      {job.data?.error ? <span className="error"> — {job.data.error}</span> : null}
    </div>
  );
}
