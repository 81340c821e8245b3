import { useQuery } from '@tanstack/react-query';
import { api, data, type Schemas } from '../../api/client';
import { ErrorMessage } from '../../components/error-message';
import { Link } from '../../navigation';
import { type MigrationState, migrationState } from '../migrations/migration-state';
import { FleetHealth } from './fleet-health';

function bytes(count: number): string {
  if (count < 1024 ** 2) return `${(count / 1024).toFixed(1)} KiB`;
  if (count < 1024 ** 3) return `${(count / 1024 ** 2).toFixed(1)} MiB`;
  return `${(count / 1024 ** 3).toFixed(2)} GiB`;
}

/** The migration states of the databases, counted: what an operator acts on first. */
function migrationSummary(databases: Schemas['MigrationStatus'][]): string {
  const counts: Partial<Record<MigrationState, number>> = {};
  for (const database of databases) {
    const state = migrationState(database);
    counts[state] = (counts[state] ?? 0) + 1;
  }
  return Object.entries(counts)
    .map(([state, count]) => `${count} ${state}`)
    .join(', ');
}

export function FleetPage() {
  const servers = useQuery({
    queryKey: ['fleet', 'servers'],
    queryFn: () => data(api.GET('/admin/v1/fleet/servers')),
  });
  const shards = useQuery({
    queryKey: ['fleet', 'shards'],
    queryFn: () => data(api.GET('/admin/v1/fleet/shards')),
  });
  const migrations = useQuery({
    queryKey: ['migrations'],
    queryFn: () => data(api.GET('/admin/v1/migrations')),
  });
  return (
    <>
      <h1>Fleet</h1>
      <ErrorMessage error={servers.error ?? shards.error} />
      <section aria-labelledby="servers-heading">
        <h2 id="servers-heading">Servers</h2>
        <table className="list" aria-label="Servers">
          <thead>
            <tr>
              <th scope="col">Server</th>
              <th scope="col">Region</th>
              <th scope="col">Connections</th>
              <th scope="col">Router connections by instance</th>
              <th scope="col">Shards</th>
              <th scope="col">Dedicated</th>
              <th scope="col">Tenants</th>
            </tr>
          </thead>
          <tbody>
            {servers.data?.data.map((server) => (
              <tr key={server.id}>
                <td>
                  {server.id}
                  {server.draining ? ' (draining)' : ''}
                </td>
                <td>{server.region ?? 'none'}</td>
                <td>
                  {server.connections_in_use} in use, {server.connections_idle} idle of{' '}
                  {server.max_connections} max; {server.router_budget} for routers (
                  {server.router_budget_assigned} assigned)
                </td>
                <td>
                  <ul className="plain">
                    {server.instances.map((instance) => (
                      <li key={instance.instance_id}>
                        {instance.kind} on {instance.host}: {instance.in_use} in use, {instance.idle} idle,
                        may hold {instance.may_hold}
                      </li>
                    ))}
                  </ul>
                </td>
                <td>{server.shards}</td>
                <td>{server.dedicated_databases}</td>
                <td>{server.tenants}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="shards-heading">
        <h2 id="shards-heading">Shards</h2>
        <table className="list" aria-label="Shards">
          <thead>
            <tr>
              <th scope="col">Shard</th>
              <th scope="col">Server</th>
              <th scope="col">Status</th>
              <th scope="col">Tenants</th>
              <th scope="col">Bytes (last measured)</th>
            </tr>
          </thead>
          <tbody>
            {shards.data?.data.map((shard) => (
              <tr key={shard.id}>
                <td>{shard.id}</td>
                <td>{shard.server_id}</td>
                <td>{shard.status}</td>
                <td>{shard.tenants}</td>
                <td>{bytes(shard.bytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="migrations-heading">
        <h2 id="migrations-heading">Migrations</h2>
        <ErrorMessage error={migrations.error} />
        <p>
          {migrations.data ? migrationSummary(migrations.data.data) || 'No databases.' : ''}{' '}
          <Link to="/migrations">Per database</Link>
        </p>
      </section>
      <FleetHealth />
    </>
  );
}
