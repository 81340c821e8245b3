import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api, data } from '../../api/client';
import { ErrorMessage } from '../../components/error-message';
import { describeProgress } from '../../components/job-progress';
import { Pager } from '../../components/pager';
import { Link } from '../../navigation';
import { JobFilters, jobQueryOf, NO_JOB_FILTER } from './job-filters';

const PAGE_SIZE = 50;

/** A percentage as one, an object as its simple fields. */
function progressText(progress: unknown): string {
  if (typeof progress === 'number') return `${progress}%`;
  return progress && typeof progress === 'object'
    ? describeProgress(progress as Record<string, unknown>)
    : '';
}

/** The jobs of every queue, newest first, filtered by queue and state, a page at a time. */
export function JobsPage() {
  const [filter, setFilter] = useState(NO_JOB_FILTER);
  const [cursors, setCursors] = useState<string[]>([]);
  const [queuesSeen, setQueuesSeen] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const page = useQuery({
    queryKey: ['jobs', filter, cursor],
    queryFn: () =>
      data(
        api.GET('/admin/v1/jobs', {
          params: { query: { ...jobQueryOf(filter), limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const listed = page.data?.data;
  useEffect(() => {
    if (!listed) return;
    setQueuesSeen((seen) => {
      const queues = new Set([...seen, ...listed.map((job) => job.queue)]);
      return queues.size > seen.length ? [...queues].sort() : seen;
    });
  }, [listed]);
  return (
    <>
      <h1>Jobs</h1>
      <JobFilters
        queues={queuesSeen}
        onApply={(next) => {
          setFilter(next);
          setCursors([]);
        }}
      />
      <ErrorMessage error={page.error} />
      <table className="list" aria-busy={page.isFetching} aria-label="Jobs">
        <thead>
          <tr>
            <th scope="col">Created</th>
            <th scope="col">Queue</th>
            <th scope="col">Job</th>
            <th scope="col">Tenant</th>
            <th scope="col">State</th>
            <th scope="col">Progress</th>
            <th scope="col">Finished</th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.data.map((job) => (
            <tr key={`${job.queue}/${job.id}`}>
              <td>{new Date(job.created_at).toLocaleString()}</td>
              <td>{job.queue}</td>
              <td>
                <code>{job.id}</code>
              </td>
              <td>{job.tenant_id ? <Link to={`/tenants/${job.tenant_id}`}>{job.tenant_id}</Link> : ''}</td>
              <td>
                <span className={`job-${job.state}`}>{job.state}</span>
              </td>
              <td>{progressText(job.progress)}</td>
              <td>{job.finished_at ? new Date(job.finished_at).toLocaleString() : ''}</td>
              <td className={job.error ? 'error' : undefined}>
                {job.error ?? ''}
                {job.error_code ? ` (${job.error_code})` : ''}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {page.data && page.data.data.length === 0 ? <p>No job matches.</p> : null}
      <Pager cursors={cursors} nextCursor={page.data?.next_cursor} onChange={setCursors} label="Job pages" />
    </>
  );
}
