import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { api, data, type Schemas } from '../api/client';
import { followJobEvents } from '../api/job-events';

const FINISHED = new Set(['completed', 'failed']);

/** A job's progress object as text: its simple fields, named. */
export function describeProgress(progress: Record<string, unknown>): string {
  return Object.entries(progress)
    .filter(([, value]) => ['string', 'number', 'boolean'].includes(typeof value))
    .map(([name, value]) => `${name.replaceAll('_', ' ')}: ${String(value)}`)
    .join(', ');
}

/**
 * A job's state and progress as they change, followed over its event stream (GET /admin/v1/jobs/{id}/events),
 * or, if the stream cannot be opened or breaks, asked again every second until it finishes
 * (GET /admin/v1/jobs/{id}); announced politely to screen readers as it changes.
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
  const queryClient = useQueryClient();
  const [polling, setPolling] = useState(false);
  // The latest callback, so a page passing a new function each render does not restart the stream.
  const finishedRef = useRef(onFinished);
  finishedRef.current = onFinished;

  useEffect(() => {
    const controller = new AbortController();
    setPolling(false);
    const onJob = (event: Schemas['Job']) => {
      queryClient.setQueryData(['job', jobId], event);
      if (FINISHED.has(event.state)) finishedRef.current?.(event);
    };
    const fallBack = () => {
      if (!controller.signal.aborted) setPolling(true);
    };
    followJobEvents(jobId, onJob, controller.signal).then((finished) => finished || fallBack(), fallBack);
    return () => controller.abort();
  }, [jobId, queryClient]);

  const job = useQuery({
    queryKey: ['job', jobId],
    queryFn: async () => {
      const found = await data(api.GET('/admin/v1/jobs/{job_id}', { params: { path: { job_id: jobId } } }));
      if (FINISHED.has(found.state)) finishedRef.current?.(found);
      return found;
    },
    enabled: polling,
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
