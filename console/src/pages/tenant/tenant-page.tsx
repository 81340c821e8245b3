import { useQuery } from '@tanstack/react-query';
import type { Capabilities } from '../../api/capabilities';
import { api, data } from '../../api/client';
import { ErrorMessage } from '../../components/error-message';
import { AuditTable } from '../audit/audit-table';
import { QuotaBars } from './quota-bars';
import { TenantActions, TenantDeletion } from './tenant-actions';
import { TenantBackups } from './tenant-backups';
import { TenantFeatures } from './tenant-features';
import { TenantTraffic } from './tenant-traffic';
import { ViewAsTenant } from './view-as-tenant';

export function TenantPage({ id, capabilities }: { id: string; capabilities: Capabilities }) {
  const tenant = useQuery({
    queryKey: ['tenant', id],
    queryFn: () => data(api.GET('/admin/v1/tenants/{id}', { params: { path: { id } } })),
    // A move changes status and placement while the page is open.
    refetchInterval: (query) => (query.state.data?.status === 'moving' ? 1000 : false),
  });
  const shown = tenant.data;
  return (
    <>
      <h1>Tenant {id}</h1>
      <ErrorMessage error={tenant.error} />
      {shown ? (
        <>
          <section aria-labelledby="placement-heading">
            <h2 id="placement-heading">Placement</h2>
            <dl className="facts">
              <dt>Name</dt>
              <dd>{shown.name}</dd>
              <dt>Tier</dt>
              <dd data-testid="tenant-tier">{shown.tier}</dd>
              <dt>Status</dt>
              <dd>
                <span className={`status status-${shown.status}`}>{shown.status}</span>
              </dd>
              <dt>Database</dt>
              <dd>
                {shown.placement
                  ? `${shown.placement.kind} ${shown.placement.database_id} (${shown.placement.database_name})`
                  : 'none'}
              </dd>
              <dt>Server</dt>
              <dd>{shown.placement?.server_id ?? 'none'}</dd>
              <dt>Region</dt>
              <dd>{shown.region ?? 'any'}</dd>
            </dl>
          </section>
          <QuotaBars tenant={shown} />
          <TenantTraffic id={id} />
          <TenantFeatures tenant={shown} capabilities={capabilities} />
          {capabilities.can.write && shown.status !== 'deleted' ? <TenantActions tenant={shown} /> : null}
          <TenantBackups id={id} tier={shown.tier} capabilities={capabilities} />
          {capabilities.can.impersonate && shown.status === 'active' ? <ViewAsTenant tenantId={id} /> : null}
          {shown.status !== 'deleted' ? <TenantDeletion tenant={shown} capabilities={capabilities} /> : null}
          <section aria-labelledby="trail-heading">
            <h2 id="trail-heading">Audit trail</h2>
            <AuditTable tenant={id} />
          </section>
        </>
      ) : null}
    </>
  );
}
