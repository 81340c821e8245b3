import { type FormEvent, useState } from 'react';
import type { paths } from '../../api/schema';

/** The list route's query, as the served OpenAPI document declares it. */
export type JobListQuery = NonNullable<paths['/admin/v1/jobs']['get']['parameters']['query']>;
type ListedState = NonNullable<JobListQuery['state']>;

/** The list's filters, as GET /admin/v1/jobs takes them; empty means "any". */
export interface JobFilter {
  queue: string;
  state: ListedState | '';
}

export const NO_JOB_FILTER: JobFilter = { queue: '', state: '' };

const STATES: ListedState[] = ['waiting', 'active', 'completed', 'failed', 'delayed'];

/** Only the filters that are set: an empty one is no filter. */
export function jobQueryOf(filter: JobFilter): JobListQuery {
  const query: JobListQuery = {};
  if (filter.queue.trim() !== '') query.queue = filter.queue.trim();
  if (filter.state !== '') query.state = filter.state;
  return query;
}

/**
 * Queue and state, applied together on submit. The queues offered are those seen in the list so far: the
 * server knows which queues exist and refuses any other with a message the page shows.
 */
export function JobFilters({ queues, onApply }: { queues: string[]; onApply: (filter: JobFilter) => void }) {
  const [filter, setFilter] = useState(NO_JOB_FILTER);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onApply(filter);
  };
  return (
    <search>
      <form className="filters" onSubmit={submit}>
        <div className="field">
          <label htmlFor="job-queue">Queue</label>
          <input
            id="job-queue"
            list="job-queues"
            value={filter.queue}
            onChange={(event) => setFilter({ ...filter, queue: event.target.value })}
            maxLength={100}
          />
          <datalist id="job-queues">
            {queues.map((queue) => (
              <option key={queue} value={queue} />
            ))}
          </datalist>
        </div>
        <div className="field">
          <label htmlFor="job-state">State</label>
          <select
            id="job-state"
            value={filter.state}
            onChange={(event) => setFilter({ ...filter, state: event.target.value as JobFilter['state'] })}
          >
            <option value="">any</option>
            {STATES.map((state) => (
              <option key={state} value={state}>
                {state}
              </option>
            ))}
          </select>
        </div>
        <button type="submit">Show jobs</button>
      </form>
    </search>
  );
}
