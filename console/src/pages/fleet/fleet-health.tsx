import { useQuery } from '@tanstack/react-query';
import { api, data, type Schemas } from '../../api/client';
import { ErrorMessage } from '../../components/error-message';
import { Link } from '../../navigation';

const HOUR_MS = 3_600_000;

/** The start of the previous hour (UTC): with the current one, the last hour's traffic in whole hours. */
function previousHourStart(now: number): string {
  return new Date(Math.floor(now / HOUR_MS) * HOUR_MS - HOUR_MS).toISOString();
}

function percent(part: number, whole: number): string {
  return whole === 0 ? '–' : `${((100 * part) / whole).toFixed(1)} %`;
}

function age(seconds: number | null): string {
  if (seconds === null) return 'no backup yet';
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  return `${(seconds / 3600).toFixed(1)} h ago`;
}

/**
 * Overdue backups (GET /admin/v1/fleet/backups-overdue) and each tier's requests and error rates in the
 * previous and the current hour (GET /admin/v1/usage/tiers, from usage metering), asked again every minute.
 */
export function FleetHealth() {
  const overdue = useQuery({
    queryKey: ['fleet', 'backups-overdue'],
    queryFn: () => data(api.GET('/admin/v1/fleet/backups-overdue')),
    refetchInterval: 60_000,
  });
  const traffic = useQuery({
    queryKey: ['fleet', 'tier-usage'],
    queryFn: () =>
      data(api.GET('/admin/v1/usage/tiers', { params: { query: { from: previousHourStart(Date.now()) } } })),
    refetchInterval: 60_000,
  });
  return (
    <>
      <section aria-labelledby="overdue-heading">
        <h2 id="overdue-heading">Backups overdue</h2>
        <ErrorMessage error={overdue.error} />
        {overdue.data && overdue.data.data.length === 0 ? (
          <p>None: every scheduled tenant is backed up.</p>
        ) : null}
        {overdue.data && overdue.data.data.length > 0 ? (
          <table className="list" aria-label="Backups overdue">
            <thead>
              <tr>
                <th scope="col">Tenant</th>
                <th scope="col">Tier</th>
                <th scope="col">Last backup</th>
                <th scope="col">Due every</th>
              </tr>
            </thead>
            <tbody>
              {overdue.data.data.map((tenant: Schemas['OverdueBackup']) => (
                <tr key={tenant.tenant_id}>
                  <td>
                    <Link to={`/tenants/${encodeURIComponent(tenant.tenant_id)}`}>{tenant.tenant_id}</Link>
                  </td>
                  <td>{tenant.tier}</td>
                  <td>{age(tenant.age_seconds)}</td>
                  <td>{Math.round(tenant.every_seconds / 60)} min</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>
      <section aria-labelledby="traffic-heading">
        <h2 id="traffic-heading">Traffic per tier</h2>
        <ErrorMessage error={traffic.error} />
        {traffic.data && traffic.data.data.length === 0 ? <p>No requests in the last hour.</p> : null}
        {traffic.data && traffic.data.data.length > 0 ? (
          <table className="list" aria-label="Traffic per tier">
            <thead>
              <tr>
                <th scope="col">Hour (from)</th>
                <th scope="col">Tier</th>
                <th scope="col">Requests</th>
                <th scope="col">4xx</th>
                <th scope="col">5xx</th>
              </tr>
            </thead>
            <tbody>
              {traffic.data.data.map((hour) => (
                <tr key={`${hour.period_start}-${hour.tier}`}>
                  <td>{new Date(hour.period_start).toLocaleTimeString()}</td>
                  <td>{hour.tier}</td>
                  <td>{hour.requests}</td>
                  <td>
                    {hour.errors_4xx} ({percent(hour.errors_4xx, hour.requests)})
                  </td>
                  <td>
                    {hour.errors_5xx} ({percent(hour.errors_5xx, hour.requests)})
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>
    </>
  );
}
