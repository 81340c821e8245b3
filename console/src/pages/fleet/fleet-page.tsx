import { useQuery } from '@tanstack/react-query';
import { api, data, type Schemas } from '../../api/client';
import { ErrorMessage } from '../../components/error-message';
import { Link } from '../../navigation';
import { type MigrationState, migrationState } from '../migrations/migration-state';

interface ServerSummary {
  id: string;
  shards: number;
  dedicated: number;
  states: Partial<Record<MigrationState, number>>;
}

/** The databases of each server, and their migration states counted: the fleet at a glance. */
function byServer(databases: Schemas['MigrationStatus'][]): ServerSummary[] {
  const servers = new Map<string, ServerSummary>();
  for (const database of databases) {
    const id = database.serverId ?? 'unknown';
    const server = servers.get(id) ?? { id, shards: 0, dedicated: 0, states: {} };
    if (database.kind === 'shard') server.shards += 1;
    else server.dedicated += 1;
    const state = migrationState(database);
    server.states[state] = (server.states[state] ?? 0) + 1;
    servers.set(id, server);
  }
  return [...servers.values()].sort((a, b) => a.id.localeCompare(b.id));
}

export function FleetPage() {
  const status = useQuery({ queryKey: ['migrations'], queryFn: () => data(api.GET('/admin/v1/migrations')) });
  const servers = byServer(status.data?.data ?? []);
  return (
    <>
      <h1>Fleet</h1>
      <ErrorMessage error={status.error} />
      <table className="list" aria-label="Servers">
        <thead>
          <tr>
            <th scope="col">Server</th>
            <th scope="col">Shards</th>
            <th scope="col">Dedicated databases</th>
            <th scope="col">Migrations</th>
          </tr>
        </thead>
        <tbody>
          {servers.map((server) => (
            <tr key={server.id}>
              <td>{server.id}</td>
              <td>{server.shards}</td>
              <td>{server.dedicated}</td>
              <td>
                {Object.entries(server.states)
                  .map(([state, count]) => `${count} ${state}`)
                  .join(', ')}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        Per database: <Link to="/migrations">Migrations</Link>.
      </p>
    </>
  );
}
