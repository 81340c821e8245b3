import { useMutation, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { api, data, type Schemas } from '../../api/client';
import { ErrorMessage } from '../../components/error-message';
import { JobProgress } from '../../components/job-progress';
import { RunOutcome } from './run-outcome';

/** Starts a fleet migration run (up) with its options, and follows the run's job until it finishes. */
export function MigrationRunForm() {
  const queries = useQueryClient();
  const [dryRun, setDryRun] = useState(true);
  const [canary, setCanary] = useState('0');
  const [concurrency, setConcurrency] = useState('4');
  const [jobId, setJobId] = useState<string | null>(null);
  const [finished, setFinished] = useState<Schemas['Job'] | null>(null);
  const start = useMutation({
    mutationFn: () =>
      data(
        api.POST('/admin/v1/migrations/runs', {
          body: {
            direction: 'up',
            dry_run: dryRun,
            canary: Number(canary),
            concurrency: Number(concurrency),
          },
        }),
      ),
    onSuccess: (accepted) => {
      setFinished(null);
      setJobId(accepted.job_id);
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    start.mutate();
  };
  return (
    <section aria-labelledby="run-heading">
      <h2 id="run-heading">Start a run</h2>
      <form className="filters" onSubmit={submit}>
        <div className="check">
          <input
            id="dry-run"
            type="checkbox"
            checked={dryRun}
            onChange={(event) => setDryRun(event.target.checked)}
          />
          <label htmlFor="dry-run">Dry run (report what would run, change nothing)</label>
        </div>
        <div className="field">
          <label htmlFor="canary">Canary databases first</label>
          <input
            id="canary"
            type="number"
            min={0}
            value={canary}
            onChange={(event) => setCanary(event.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="concurrency">Databases at once</label>
          <input
            id="concurrency"
            type="number"
            min={1}
            value={concurrency}
            onChange={(event) => setConcurrency(event.target.value)}
          />
        </div>
        <button type="submit" disabled={start.isPending}>
          Start run
        </button>
      </form>
      <ErrorMessage error={start.error} />
      {jobId ? (
        <JobProgress
          key={jobId}
          jobId={jobId}
          label="Migration run"
          onFinished={(job) => {
            setFinished(job);
            void queries.invalidateQueries({ queryKey: ['migrations'] });
          }}
        />
      ) : null}
      {finished ? <RunOutcome job={finished} /> : null}
    </section>
  );
}
