import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, data } from '../../api/client';
import { ErrorMessage } from '../../components/error-message';
import { Pager } from '../../components/pager';
import { Link } from '../../navigation';
import { NO_FILTER, type TenantFilter, TenantFilters, type TenantListQuery } from './tenant-filters';

const PAGE_SIZE = 50;

/** Only the filters that are set: an empty one is no filter, not "equal to the empty string". */
function queryOf(filter: TenantFilter): TenantListQuery {
  const query: TenantListQuery = {};
  if (filter.q.trim() !== '') query.q = filter.q.trim();
  if (filter.tier !== '') query.tier = filter.tier;
  if (filter.status !== '') query.status = filter.status;
  if (filter.server.trim() !== '') query.server = filter.server.trim();
  if (filter.region.trim() !== '') query.region = filter.region.trim();
  return query;
}

export function TenantsPage() {
  const [filter, setFilter] = useState(NO_FILTER);
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const page = useQuery({
    queryKey: ['tenants', filter, cursor],
    queryFn: () =>
      data(
        api.GET('/admin/v1/tenants', {
          params: {
            query: { ...queryOf(filter), limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  return (
    <>
      <h1>Tenants</h1>
      <TenantFilters
        onApply={(next) => {
          setFilter(next);
          setCursors([]);
        }}
      />
      <ErrorMessage error={page.error} />
      <table className="list" aria-busy={page.isFetching} aria-label="Tenants">
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">Name</th>
            <th scope="col">Tier</th>
            <th scope="col">Status</th>
            <th scope="col">Placement</th>
            <th scope="col">Region</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.data.map((tenant) => (
            <tr key={tenant.id}>
              <td>
                <Link to={`/tenants/${tenant.id}`}>{tenant.id}</Link>
              </td>
              <td>{tenant.name}</td>
              <td>{tenant.tier}</td>
              <td>
                <span className={`status status-${tenant.status}`}>{tenant.status}</span>
              </td>
              <td>
                {tenant.placement
                  ? `${tenant.placement.kind} ${tenant.placement.database_id} on ${tenant.placement.server_id}`
                  : 'none'}
              </td>
              <td>{tenant.region ?? 'any'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page.data && page.data.data.length === 0 ? <p>No tenant matches.</p> : null}
      <Pager
        cursors={cursors}
        nextCursor={page.data?.next_cursor}
        onChange={setCursors}
        label="Tenant pages"
      />
    </>
  );
}
