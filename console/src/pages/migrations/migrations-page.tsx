import { useQuery } from '@tanstack/react-query';
import type { Capabilities } from '../../api/capabilities';
import { api, data } from '../../api/client';
import { ErrorMessage } from '../../components/error-message';
import { MigrationRunForm } from './migration-run-form';
import { migrationState } from './migration-state';

export function MigrationsPage({ capabilities }: { capabilities: Capabilities }) {
  const status = useQuery({ queryKey: ['migrations'], queryFn: () => data(api.GET('/admin/v1/migrations')) });
  return (
    <>
      <h1>Migrations</h1>
      {capabilities.can.write ? <MigrationRunForm /> : null}
      <h2>Per database</h2>
      <ErrorMessage error={status.error} />
      <table className="list" aria-label="Migration status per database">
        <thead>
          <tr>
            <th scope="col">Database</th>
            <th scope="col">Kind</th>
            <th scope="col">Server</th>
            <th scope="col">State</th>
            <th scope="col">Pending</th>
            <th scope="col">Last run</th>
          </tr>
        </thead>
        <tbody>
          {status.data?.data.map((database) => (
            <tr key={database.databaseId}>
              <td>{database.databaseId}</td>
              <td>{database.kind}</td>
              <td>{database.serverId ?? ''}</td>
              <td>{migrationState(database)}</td>
              <td>{database.pending.join(', ')}</td>
              <td>
                {database.lastRun
                  ? `${database.lastRun.status ?? ''} ${database.lastRun.finishedAt ? new Date(database.lastRun.finishedAt).toLocaleString() : ''}`
                  : 'never'}
                {database.lastRun?.error ? <span className="error"> {database.lastRun.error}</span> : null}
                {database.error ? <span className="error"> {database.error}</span> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
