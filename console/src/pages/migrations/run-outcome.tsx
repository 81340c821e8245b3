import type { Schemas } from '../../api/client';

/** What a migration run's job reports when it finishes (src/migrations/migration-jobs.ts). */
interface RunResult {
  run_id?: string;
  status?: string;
  targets?: number;
  failed?: Array<{ database_id: string; error?: string }>;
}

/**
 * How a finished migration run went: its status, how many databases it took, and each that failed with
 * its error text. Every database's own state and last run are in the table below it.
 */
export function RunOutcome({ job }: { job: Schemas['Job'] }) {
  const result = (job.result ?? {}) as RunResult;
  const failed = Array.isArray(result.failed) ? result.failed : [];
  return (
    <section aria-label="Run outcome" className="job">
      <p>
        Run {result.run_id ?? '(dry run, not recorded)'}: {result.status ?? job.state}, {result.targets ?? 0}{' '}
        databases, {failed.length === 0 ? 'none failed' : `${failed.length} failed`}.
      </p>
      {failed.length > 0 ? (
        <table className="list" aria-label="Databases the run failed on">
          <thead>
            <tr>
              <th scope="col">Database</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
            {failed.map((target) => (
              <tr key={target.database_id}>
                <td>{target.database_id}</td>
                <td className="error">{target.error ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {job.error ? <p className="error">{job.error}</p> : null}
    </section>
  );
}
